"""Forms of the import pages: upload, file settings (encoding, delimiter, sheet), mapping and options."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Kind
from . import mapping, reader
from .models import DuplicatePolicy, ImportMode, MatchOn

ENCODING_CHOICES = [
    ("auto", _("Detect automatically")),
    ("utf-8", "UTF-8"),
    ("gb18030", _("GB18030 / GBK (Chinese Excel)")),
    ("utf-16", _("UTF-16 (Excel “Unicode text”)")),
]
DELIMITER_CHOICES = [
    ("auto", _("Detect automatically")),
    ("comma", _("Comma ,")),
    ("semicolon", _("Semicolon ;")),
    ("tab", _("Tab")),
    ("pipe", _("Vertical bar |")),
]


DATE_ORDER_CHOICES = [
    ("", _("— ask in each row —")),
    ("dmy", _("day/month/year (3 April 2023)")),
    ("mdy", _("month/day/year (March 4, 2023)")),
]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK) or Excel .xlsx; the first row names the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )
    encoding = forms.ChoiceField(label=_("Encoding (CSV)"), choices=ENCODING_CHOICES, initial="auto")
    delimiter = forms.ChoiceField(label=_("Delimiter (CSV)"), choices=DELIMITER_CHOICES, initial="auto")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > reader.max_bytes():
            raise forms.ValidationError(
                _(
                    "The file is %(size)s MB; at most %(limit)s MB can be imported. Split it into smaller files."
                )
                % {"size": f"{upload.size / 1048576:,.1f}", "limit": f"{reader.max_bytes() / 1048576:,.0f}"}
            )
        return upload


class FileSettingsForm(forms.Form):
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITER_CHOICES, required=False)
    sheet = forms.CharField(label=_("Sheet"), required=False, max_length=100)
    header_row = forms.IntegerField(
        label=_("Header row"),
        required=False,
        min_value=0,
        help_text=_("The row that names the columns; empty: detected (title rows above it are passed over)."),
    )


class MappingForm(forms.Form):
    mode = forms.ChoiceField(label=_("What to do"), choices=ImportMode.choices, widget=forms.RadioSelect)
    match_on = forms.ChoiceField(
        label=_("Find existing customers by"),
        choices=MatchOn.choices,
        help_text=_("Phone and email are compared in normalised form (+86 138-1234-5678 = 13812345678)."),
    )
    duplicates = forms.ChoiceField(
        label=_("New rows that look like an existing customer"),
        choices=DuplicatePolicy.choices,
        widget=forms.RadioSelect,
    )
    default_kind = forms.ChoiceField(
        label=_("Rows without a kind are"),
        choices=Kind.choices,
        help_text=_("Rows with an account are always persons (contacts)."),
    )

    def __init__(self, *args, headers: list[str], targets: list[mapping.Target], date_orders=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        # a column of day/month dates the file does not settle (03/04/2023) asks its order once
        self.asked = [i for i, found in enumerate(date_orders or []) if found in ("ask", "mixed")]
        for index in self.asked:
            self.fields[f"date_order_{index}"] = forms.ChoiceField(
                label=_("Dates like 03/04/2023 in this column are"),
                choices=DATE_ORDER_CHOICES,
                required=False,
            )
        choices = [("", _("— do not import —"))]
        groups: dict[str, list[tuple[str, str]]] = {}
        for target in targets:
            if target.key.startswith("custom."):
                group = _("Custom fields")
            elif target.key.startswith("consent."):
                group = _("Marketing consent")
            elif target.key in ("extra_phone", "extra_email", "wechat"):
                group = _("More contact details")
            else:
                group = _("Customer")
            groups.setdefault(str(group), []).append((target.key, target.label))
        choices += list(groups.items())
        for index in range(len(headers)):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=mapping.column_name(headers, index), choices=choices, required=False
            )

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.headers))]

    def date_order_fields(self):
        return [self[f"date_order_{i}"] if i in self.asked else None for i in range(len(self.headers))]

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"col_{i}") or "" for i in range(len(self.headers))]

    def options(self) -> dict:
        options = {k: self.cleaned_data[k] for k in ("mode", "match_on", "duplicates", "default_kind")}
        options["date_orders"] = {
            str(i): self.cleaned_data[f"date_order_{i}"]
            for i in self.asked
            if self.cleaned_data[f"date_order_{i}"]
        }
        return options


class ValueMappingForm(forms.Form):
    """One choice per distinct value of each choice column: the Kehu choice it is read as."""

    def __init__(self, *args, columns, chosen: dict, may_create: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = []
        for index, target, options, suggestions in columns:
            choices = [(mapping.LEAVE_EMPTY, _("— leave empty —")), *options]
            if may_create and target.key.startswith("custom."):
                choices.append((mapping.CREATE_CHOICE, _("create as a new choice")))
            rows = []
            for number, suggestion in enumerate(suggestions):
                name = f"v_{index}_{number}"
                initial = chosen.get(target.key, {}).get(suggestion.value, suggestion.suggested)
                self.fields[name] = forms.ChoiceField(
                    label=suggestion.value, choices=choices, required=False, initial=initial
                )
                rows.append((self[name], suggestion))
            self.columns.append({"index": index, "target": target, "rows": rows})

    def value_maps(self) -> dict:
        maps: dict[str, dict[str, str]] = {}
        for column in self.columns:
            for field, suggestion in column["rows"]:
                maps.setdefault(column["target"].key, {})[suggestion.value] = (
                    self.cleaned_data[field.name] or ""
                )
        return maps

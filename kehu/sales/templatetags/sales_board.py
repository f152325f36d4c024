"""The board's cards in one pass (up to 50 per open stage: 200+ on a page): the markup of the per-card template
loop that sales/board_cards.html had, values escaped as `{{ value }}` does, one reverse() for the card links —
the template engine's per-card cost was most of the board page's Python time."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from kehu.ui.templatetags.kehu_ui import display, row_url, value_renderer

register = template.Library()


def _before(value, limit) -> bool:
    """`{% if value < limit %}`: False when either is missing (the template's comparison swallows errors)."""
    try:
        return value is not None and limit is not None and value < limit
    except TypeError:
        return False


@register.simple_tag(takes_context=True)
def board_cards(context, cards, stalled_before):
    """<li> per card (title link, customer, amount when `show_amounts`, expected close, owner, stalled
    badge, "Move to…" when `can_move`), as the template loop rendered it."""
    v = value_renderer(context)
    url_of = row_url("sales:opportunity")
    show_amounts, can_move = context.get("show_amounts"), context.get("can_move")
    stalled_badge = (
        f'<span class="badge warn" data-testid="stalled">{conditional_escape(_("Stalled"))}</span>'
    )
    move_label = conditional_escape(_("Move to…"))
    parts = []
    for card in cards:
        stalled = _before(card.last_activity_at, stalled_before)
        pk = v(card.pk)
        amount = f"<span>{v(card.currency)} {v(display(card.amount))}</span>" if show_amounts else ""
        owner = v(str(card.owner)) if card.owner else "—"  # `{{ obj }}` is the escaped str(obj)
        move = (
            f'<button type="button" class="btn small ghost board-card-move" data-move-menu aria-haspopup="dialog" '
            f'data-testid="move-menu-{pk}">{move_label}</button>'
            if can_move
            else ""
        )
        parts.append(
            f'<li class="board-card{" stalled" if stalled else ""}" data-card data-id="{pk}" '
            f'data-version="{v(card.version)}" data-name="{v(card.name)}" data-testid="card-{pk}">\n'
            f'  <a class="board-card-title" href="{v(url_of(card.pk))}">{v(card.name)}</a>\n'
            f'  <div class="muted small">{v(str(card.customer))}</div>\n'
            f'  <div class="board-card-meta">{amount}<span class="muted small">{v(display(card.expected_close_date))}'
            f"</span></div>\n"
            f'  <div class="board-card-meta"><span class="muted small">{owner}</span>\n'
            f"    {stalled_badge if stalled else ''}\n"
            f"    {move}\n"
            f"  </div>\n"
            f"</li>"
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped by value_renderer # nosec B308 B703

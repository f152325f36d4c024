"""Demo catalogue and installed base (bulk inserts, deterministic)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from kehu.core import bulk
from kehu.customers.models import Customer

from .models import InstalledProduct, Product, ProductCategory

CATALOGUE = {
    "工业设备 Industrial equipment": [
        ("AC-200", "工业空压机 AC-200 Industrial air compressor", "台", "58000", 24),
        ("AC-500", "螺杆空压机 AC-500 Screw compressor", "台", "126000", 24),
        ("GEN-30", "柴油发电机组 GEN-30 Diesel generator", "台", "89000", 12),
        ("PMP-11", "离心水泵 PMP-11 Centrifugal pump", "台", "12800", 12),
    ],
    "净水设备 Water treatment": [
        ("WP-1", "家用净水器 WP-1 Water purifier", "台", "2999", 12),
        ("WP-9", "商用反渗透净水机 WP-9 RO system", "台", "16800", 18),
        ("FLT-3", "滤芯套装 FLT-3 Filter kit", "套", "399", 3),
    ],
    "办公电子 Office electronics": [
        ("PRN-7", "激光打印机 PRN-7 Laser printer", "台", "3299", 12),
        ("SCN-2", "高速扫描仪 SCN-2 Document scanner", "台", "5600", 12),
        ("PRJ-4", "会议投影仪 PRJ-4 Projector", "台", "7800", 24),
    ],
    "医疗器械 Medical devices": [
        ("BPM-5", "电子血压计 BPM-5 Blood pressure monitor", "台", "699", 24),
        ("OXY-8", "制氧机 OXY-8 Oxygen concentrator", "台", "4580", 24),
    ],
    "服务 Services": [
        ("SVC-MAINT", "年度维保服务 Annual maintenance", "年", "6000", 0),
        ("SVC-INST", "上门安装 On-site installation", "次", "800", 0),
    ],
}


def seed(ctx) -> str:
    rng = ctx["rng"]
    ids = ctx["customer_ids"]
    products = []
    for category_name, items in CATALOGUE.items():
        category = ProductCategory.objects.create(name=category_name)
        for sku, name, unit, price, warranty in items:
            products.append(
                Product.objects.create(
                    sku=sku,
                    name=name,
                    category=category,
                    unit=unit,
                    list_price=Decimal(price),
                    warranty_months=warranty,
                )
            )
    hardware = [p for p in products if p.warranty_months]
    holders = list(
        Customer.objects.filter(pk__gte=min(ids), pk__lte=max(ids), kind="organization").values_list(
            "pk", flat=True
        )
    )
    holders += list(
        Customer.objects.filter(
            pk__gte=min(ids), pk__lte=max(ids), kind="person", account__isnull=True
        ).values_list("pk", flat=True)[: len(ids) // 10]
    )
    today = timezone.localdate()
    now = timezone.now()
    serial = 100000

    def units():
        nonlocal serial
        for pk in holders:
            if rng.random() > 0.6:
                continue
            for _ in range(rng.choice((1, 1, 2, 3))):
                product = rng.choice(hardware)
                serial += 1
                bought = today - dt.timedelta(days=rng.randrange(30, 1500))
                months = product.warranty_months
                warranty_end = bought + dt.timedelta(days=int(months * 30.4))
                status = rng.choice(["active"] * 8 + ["in_repair", "replaced", "retired"])
                yield (
                    pk,
                    product.pk,
                    f"{product.sku}-{serial}",
                    1,
                    bought,
                    f"SO-{bought:%Y}-{serial % 100000:05d}",
                    warranty_end,
                    "",
                    status,
                    "",
                    now,
                    now,
                    1,
                )

    made = bulk.insert_rows(
        InstalledProduct,
        [
            "customer",
            "product",
            "serial_number",
            "quantity",
            "purchase_date",
            "order_reference",
            "warranty_end",
            "location",
            "status",
            "notes",
            "created_at",
            "updated_at",
            "version",
        ],
        units(),
    )
    bulk.reset_sequences(InstalledProduct)
    return f"{len(products)} products, {made} installed units"

"""Kehu (客户): an open-source CRM."""

"""The registry of houses, residents, special statuses and staff: code tables and validation."""

from api.services.registry.codes import CODE_TABLES, code_table, special_status_fields
from api.services.registry.validators import (
    FieldError,
    IdInfo,
    IdNumberError,
    check_house,
    check_resident,
    check_special_status,
    check_staff,
    mask_id_number,
    mask_phone,
    validate_id_number,
)

__all__ = [
    "CODE_TABLES",
    "FieldError",
    "IdInfo",
    "IdNumberError",
    "check_house",
    "check_resident",
    "check_special_status",
    "check_staff",
    "code_table",
    "mask_id_number",
    "mask_phone",
    "special_status_fields",
    "validate_id_number",
]

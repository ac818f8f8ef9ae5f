"""Model fields of gateways_app."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

UINT64_MAX = 2**64 - 1
_SIGN_BIT = 2**63


class UInt64Field(models.BigIntegerField):
    """An unsigned 64-bit integer (OpAMP's uint64 fields) in a signed 64-bit column, bit for bit.

    Values from 2**63 up are stored as their two's complement (negative in the column) and read
    back as they were. Every database has a 64-bit integer column, and the low bits read the
    same in SQL either way: `capabilities & bit` keeps working in queries, which a numeric
    column would not allow.
    """

    description = "Unsigned 64-bit integer"

    @property
    def validators(self):
        return [MinValueValidator(0), MaxValueValidator(UINT64_MAX), *self._validators]

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is not None and value >= _SIGN_BIT:
            return value - 2**64
        return value

    def from_db_value(self, value, expression, connection):
        if value is not None and value < 0:
            return value + 2**64
        return value

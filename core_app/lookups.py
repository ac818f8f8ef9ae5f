"""The `__any` lookup: `Gateway.objects.filter(pk__any=ids)`, membership in a list sent as one parameter.

On PostgreSQL it is `id = ANY(%s)` with the list as one array parameter: the SQL text is the
same whatever the list's length, so building it costs nothing per id. An `IN (%s, %s, …)` of
5,000 ids is compiled and quoted id by id in Python, on a thread that shares the GIL with
the OpAMP server's event loop, every few seconds (presence.py). Elsewhere (SQLite) it is the
ordinary `IN`. Registered for every field by FlowgateSiteConfig.ready().
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import Field
from django.db.models.lookups import In


class AnyOf(In):
    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not isinstance(self.rhs, (list, tuple, set, frozenset)):
            return self.as_sql(compiler, connection)  # a subquery: IN (SELECT …) as usual
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


def register():
    Field.register_lookup(AnyOf)

"""Comparing two declarations of one object without a database (a Pulumi preview, a replacement).

The same rows, diffs and unique keys the engine uses against the database, so a front end
never re-derives what the engine would consider changed or colliding.
"""

from __future__ import annotations

from reconciler.derived import DeriveContext
from reconciler.desired import object_rows
from reconciler.mapping import kind_maps
from reconciler.plan import FieldDiff, object_diff
from reconciler.rows import ObjectRows, same
from reconciler.secrets import ReferencesOnly
from resources.meta import Resource


def declared_rows(obj: Resource) -> ObjectRows:
    """The rows ``obj`` would own, every secret left unread (see ``ReferencesOnly``)."""
    ctx = DeriveContext(ReferencesOnly(), obj.key.namespace, obj.key.name, None)
    return object_rows(kind_maps()[obj.kind], obj, ctx)


def declared_diff(old: Resource, new: Resource) -> dict[str, FieldDiff]:
    """What would change in the switch if ``old`` were replaced by ``new`` (labels by spec path)."""
    return object_diff(kind_maps()[new.kind], declared_rows(old), declared_rows(new))


def shares_unique_key(old: Resource, new: Resource) -> bool:
    """``new`` would take a key ``old`` still holds: its name, a unique column (a DID number), or
    a uniqueness rule of the kind (address+port+techPrefix); so ``old`` must go first."""
    if old.key == new.key:
        return True
    kmap = kind_maps()[new.kind]
    old_row, new_row = declared_rows(old).row, declared_rows(new).row
    declared = {f.column for f in kmap.fields}
    for columns in kmap.unique_columns:
        if set(columns) <= declared and all(same(old_row.get(c), new_row.get(c)) for c in columns):
            return True
    for rule in type(new).uniqueness:
        old_value, new_value = rule.key(old.spec), rule.key(new.spec)
        if old_value is not None and old_value == new_value:
            return True
    return False

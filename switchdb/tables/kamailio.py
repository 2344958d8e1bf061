"""What a stock Kamailio 5.6 reads: the ``version`` table, and the names of the two views.

``address`` (permissions module, table version 6) and ``subscriber`` (auth_db, version 7) are
views over ``ip_authentications`` and ``credential_authentications``, created by the
migration; only ``version`` is a real table, because Kamailio checks it at start-up:

- ``address``: id, grp (= customer_id, so ``allow_source_address_group()`` returns the
  customer), ip_addr, mask, port, tag (= the *customer's* ``namespace/name``: the switch acts
  on customers, and the tag stays the same whichever of a customer's addresses matched). Only
  ``direction: Ingress`` rows with an IP address.
- ``subscriber``: id, username, domain (= realm), password (always ''), ha1, ha1b; use
  ``calculate_ha1 0`` (the default) so Kamailio reads the hashes, never a clear password.

A customer's status is not filtered here: the rating sidecar's authorize answers with the
reason ("customer Inactive"), which a bare 403 from the switch would hide.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from switchdb.tables.base import metadata

KAMAILIO_VIEWS = ("address", "subscriber")
KAMAILIO_TABLE_VERSIONS = {"address": 6, "subscriber": 7}

version = Table(
    "version",
    metadata,
    Column("table_name", String(32), primary_key=True),
    Column("table_version", Integer(), nullable=False, default=0),
)

# Kamailio's mqueue module keeps the example's queue of CDRs not yet posted to the sidecar
# here while the switch is stopped (``dbmode=1``: written at shutdown, read back and emptied
# at start-up), so a restart of the switch loses no CDR. The module names the table after the
# queue and reads the columns id, key, val.
cdr_queue = Table(
    "cdr_queue",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("val", Text(), nullable=False),
)

"""The faults tier: each test starts its own ``temix serve`` (``tests.support.server.running_server``)
and does to it what the field does: kills, database outages, slow and hostile clients."""

"""Several daemons on one database: leases, launchers racing, three replicas at once."""

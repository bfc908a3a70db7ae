"""Live events: the broker that carries a write's event to its owner's sockets (in-process,
or Redis pub/sub for several instances) and the registry of this process's open sockets."""

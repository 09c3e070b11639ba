"""The case workflow: the transition table, the services that carry a case along its path,
and the mutations that expose them."""

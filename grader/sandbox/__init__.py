"""The confinement of every untrusted process: launcher, identities, limits, watchdog."""

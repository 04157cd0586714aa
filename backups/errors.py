"""What stops a backup or a restore, said so an operator knows what to do next."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why (and never holds a secret)."""


class BackupNotFound(BackupError):
    """No complete backup (one with its manifest) under that id."""


class BackupCorrupt(BackupError):
    """The downloaded dump does not have the size or SHA-256 its manifest records."""


class TargetNotEmpty(BackupError):
    """The restore target already holds tables and overwriting was not asked for."""


class RestoreMismatch(BackupError):
    """The restored database does not hold what the manifest says was backed up."""

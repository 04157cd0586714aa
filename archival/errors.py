"""Errors of the archival app, in the domain's words."""

from auditlog_project.errors import DomainError


class ArchiveVerificationFailed(DomainError):
    """An object read back from cold storage is not what was written (count,
    checksum, schema or tenant differ). Nothing may be deleted on its account."""


class ArchiveMissing(DomainError):
    """No verified archive (manifest) exists for the tenant and day asked for."""

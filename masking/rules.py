"""The built-in masking rules: key names that name secrets, and values that look like one.

Both are hand-written for the ingest path (docs/adr/0015-masking-at-ingest.md):

- Key names are compared after normalising case, '-', '_', '.' and spaces away
  (`X-Api-Key` and `api_key` are both `xapikey`/`apikey`): equal to a name of
  SECRET_KEYS, or starting/ending with one of SECRET_PREFIXES/SECRET_SUFFIXES
  (`new_password`, `client_secret`, `csrf_token`).
- Values: one precompiled pattern per kind, each behind a cheap test; each
  kind has its own replacement that keeps a useful shape (`****4242` for a
  card, `[jwt]`, `[bearer]`, `[aws-key-id]`, ...). Card numbers must pass the
  Luhn check and start like a card (2-6), so order numbers and millisecond
  timestamps stay as they are. An AWS secret access key is recognised as a
  whole value (40 base64 characters, both cases and a digit) or by its key
  name; inline, 40 such characters are too often something else.
"""

from __future__ import annotations

import re

# The replacement of a value under a key that names a secret.
REDACTED = "[redacted]"

SECRET_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "token", "accesstoken",
        "refreshtoken", "idtoken", "authtoken", "sessiontoken", "apikey", "apisecret",
        "authorization", "proxyauthorization", "cookie", "setcookie", "privatekey",
        "secretkey", "secretaccesskey", "clientsecret", "ssn", "socialsecuritynumber", "cardnumber",
        "creditcardnumber", "creditcard", "ccnumber", "cardno", "pan", "cvv", "cvv2",
        "cvc", "cvc2", "securitycode",
    }
)  # fmt: skip
SECRET_SUFFIXES = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey",
    "secretkey", "secretaccesskey", "authorization", "cardnumber",
)  # fmt: skip
SECRET_PREFIXES = ("password", "passwd")
# Keys whose masked value keeps a card's shape when it is one.
CARD_KEYS = frozenset({"cardnumber", "creditcardnumber", "creditcard", "ccnumber", "cardno", "pan"})

_KEY_NOISE = str.maketrans("", "", "-_. ")


def normalise_key(key: str) -> str:
    """`X-Api_Key` -> `xapikey`: how key names are compared."""
    return key.lower().translate(_KEY_NOISE)


def names_secret(normalised: str) -> bool:
    """Whether a normalised key names a secret by the built-in rules."""
    return (
        normalised in SECRET_KEYS
        or normalised.endswith(SECRET_SUFFIXES)
        or normalised.startswith(SECRET_PREFIXES)
    )


# The built-in value rules, one pattern per kind, each behind a cheap test
# (`in` on a literal, or a pattern that starts with a literal or a class, which
# the `re` engine scans for in C), so a string without secrets costs a few
# substring searches. Every pattern is bounded or anchored on a literal: a
# search is linear in the string. Shortest match: a 13-digit card number.
MIN_SECRET_LENGTH = 13
PEM = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")
AUTH = re.compile(r"\b(bearer|basic)[ \t]{1,8}([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
AWS_KEY_ID = re.compile(r"\bA(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|IPA)[A-Z0-9]{16}\b")
AWS_KEY_ID_SCREEN = re.compile(r"A[KSBCGIRNP][A-Z]{2}[A-Z0-9]{16}")
CARD = re.compile(r"(?<![0-9])[2-6](?:[ -]?[0-9]){12,18}(?![0-9])")
CARD_SCREEN = re.compile(r"[2-6](?:[ -]?[0-9]){12}")
AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
MIN_TOKEN = {"bearer": 12, "basic": 8}
MARKERS = {
    "bearer": "[bearer]",
    "basic": "[basic-auth]",
    "jwt": "[jwt]",
    "aws_key_id": "[aws-key-id]",
    "aws_secret": "[aws-secret]",
    "pem": "[private-key]",
}
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)")
MIN_EMAIL_LENGTH = 5


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers pass it)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def masked_card(digits: str) -> str:
    return "****" + digits[-4:]


def card_digits(text: str) -> str | None:
    """The digits of `text` when it is a card number (13-19 digits, Luhn), else None."""
    digits = text.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and digits.isdigit() and digits[0] in "23456":
        return digits if luhn_valid(digits) else None
    return None


def aws_secret_like(text: str) -> bool:
    """A whole value of 40 base64 characters with both cases and a digit (an AWS
    secret access key; a hex SHA-1 has no upper case)."""
    return (
        len(text) == 40
        and AWS_SECRET.fullmatch(text) is not None
        and not text.isdigit()
        and any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


def may_hold_secret(text: str) -> bool:
    """False only when `text` holds nothing the built-in rules mask (a cheap
    screen, run once over all of an event's strings joined by NUL)."""
    if "eyJ" in text or "PRIVATE KEY-----" in text:
        return True
    if AWS_KEY_ID_SCREEN.search(text) or CARD_SCREEN.search(text):
        return True
    lowered = text.lower()
    return "bearer" in lowered or "basic" in lowered


Span = tuple[int, int, str]


def _spans(text: str) -> list[Span]:
    """(start, end, replacement) of every built-in secret in `text`, unsorted."""
    found: list[Span] = []
    if "PRIVATE KEY-----" in text:
        for match in PEM.finditer(text):  # through the footer, or to the end without one
            footer = PEM_END.search(text, match.end())
            found.append((match.start(), footer.end() if footer else len(text), MARKERS["pem"]))
    if "eyJ" in text:
        found += [(m.start(), m.end(), MARKERS["jwt"]) for m in JWT.finditer(text)]
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        for match in AUTH.finditer(text):
            scheme = match.group(1).lower()
            if len(match.group(2)) >= MIN_TOKEN[scheme]:
                found.append((match.start(), match.end(), MARKERS[scheme]))
    found += [(m.start(), m.end(), MARKERS["aws_key_id"]) for m in AWS_KEY_ID.finditer(text)]
    for match in CARD.finditer(text):
        digits = card_digits(match.group())
        if digits:
            found.append((match.start(), match.end(), masked_card(digits)))
    return found


def mask_builtin_values(text: str) -> str | None:
    """`text` with every built-in secret replaced, or None when it holds none."""
    if aws_secret_like(text):
        return MARKERS["aws_secret"]
    spans = _spans(text)
    if not spans:
        return None
    pieces: list[str] = []
    done = 0
    for start, end, replacement in sorted(spans):
        if start < done:  # inside a span already replaced (a JWT after "Bearer")
            continue
        pieces += (text[done:start], replacement)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def mask_emails(text: str) -> str | None:
    """`text` with each e-mail address as `***@domain`, or None when it holds none."""
    if "@" not in text:
        return None
    masked, count = EMAIL.subn(lambda m: "***@" + m.group(1), text)
    return masked if count else None

"""The password policy: long enough, varied enough, not the user name, not a common password.

At least :data:`MIN_LENGTH` characters, characters of at least three of four classes (lower
case, upper case, digits, other), not containing the user name, and not in the list of 20,000
common passwords shipped in ``data/security/common-passwords.txt.gz`` (compared lower-cased).
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

__all__ = ["MIN_LENGTH", "password_problems"]

MIN_LENGTH = 10
COMMON_PASSWORDS = (
    Path(__file__).resolve().parents[2] / "data" / "security" / "common-passwords.txt.gz"
)


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def _classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def password_problems(password: str, *, username: str = "") -> list[str]:
    """What is wrong with ``password`` (Chinese / English), [] when it passes.

    >>> password_problems("12345678")[0]
    '密码至少 10 个字符 / at least 10 characters'
    >>> password_problems("correct-horse-42", username="ada")
    []
    """
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"密码至少 {MIN_LENGTH} 个字符 / at least {MIN_LENGTH} characters")
    if _classes(password) < 3:
        problems.append(
            "须含小写、大写、数字、符号中的至少三类 / at least three of: lower case, upper case, "
            "digits, symbols"
        )
    name = username.strip().lower()
    if name and name in password.lower():
        problems.append("不得包含用户名 / must not contain the user name")
    if password.lower() in _common():
        problems.append("是常见密码 / is a common password")
    return problems

"""Schemathesis hooks for the bad-input sweep (service/test/fuzz.int.test.ts).

With SWEEP_NEGATIVE_ONLY=1 only cases that are really invalid for the service are sent, so the
sweep can assert that nothing changed:

- In negative mode schemathesis still sends a case as *positive* when a real value from its
  resource pool (an id learned from GET /api/users, say) overwrote the only mutation: a valid
  request that may suspend, rotate or delete. Those are dropped.
- The service trims strings (and lower-cases emails, slugs and currencies) before checking
  their length and pattern, as documented in its validators. A case whose only violations are
  string lengths/patterns on a value with surrounding whitespace or capitals may be valid once
  normalised ("\\r" + 100 characters for a 100-character name): dropped too.
"""

import os

import schemathesis

STRING_KEYWORDS = {"maxLength", "minLength", "pattern", "format"}


def _normalisable(mutation) -> bool:
    value = getattr(mutation, "new_value", None)
    keywords = set(getattr(mutation, "keywords", ()) or ())
    return bool(keywords) and keywords <= STRING_KEYWORDS and isinstance(value, str) and (value != value.strip() or value != value.lower())


@schemathesis.hook
def filter_case(context, case):
    if os.environ.get("SWEEP_NEGATIVE_ONLY") != "1":
        return True
    meta = getattr(case, "meta", None)
    if meta is None:
        return True
    if not meta.generation.mode.is_negative:
        return False
    mutations = tuple(getattr(meta.phase.data, "mutations", ()) or ())
    return not (mutations and all(_normalisable(m) for m in mutations))

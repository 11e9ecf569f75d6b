"""One environment holds both venue SDKs, and paradex-py signs like an independent implementation.

paradex-py (websockets 15, starknet-crypto-py) and grvt-pysdk (pins websockets 13.1) cannot share
an environment as published; pyproject.toml overrides the pin and serves starknet-crypto-py from
compat/. These tests prove both imports work and that the signing primitives paradex-py calls
agree with two independent implementations: fast-stark-crypto (a Rust build of starknet-crypto)
and the pure-Python Stark-curve arithmetic below.
"""

from __future__ import annotations

import importlib.metadata

import fast_stark_crypto
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# --- an independent Stark-curve ECDSA in pure Python (public curve constants) -----------------
P = 2**251 + 17 * 2**192 + 1
ALPHA = 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
N = 0x800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
G = (0x1EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA,
     0x5668060AA49730B7BE4801DF46EC62DE53ECD11ABE43A32873000C36E8DC1F)


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0]:
        if (a[1] + b[1]) % P == 0:
            return None
        lam = (3 * a[0] * a[0] + ALPHA) * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def _mul(k: int, pt: tuple[int, int]) -> tuple[int, int] | None:
    acc: tuple[int, int] | None = None
    add: tuple[int, int] | None = pt
    while k:
        if k & 1:
            acc = _add(acc, add)
        add = _add(add, add)
        k >>= 1
    return acc


def _y_of(x: int) -> int:
    y2 = (x**3 + ALPHA * x + BETA) % P
    y = pow(y2, (P + 1) // 4, P) if P % 4 == 3 else _sqrt_mod(y2)
    assert y * y % P == y2
    return y


def _sqrt_mod(a: int) -> int:
    """Tonelli-Shanks (the Stark prime is 1 mod 4)."""
    q, s = P - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 2
    while pow(z, (P - 1) // 2, P) != P - 1:
        z += 1
    m, c, t, r = s, pow(z, q, P), pow(a, q, P), pow(a, (q + 1) // 2, P)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % P
            i += 1
        b = pow(c, 1 << (m - i - 1), P)
        m, c, t, r = i, b * b % P, t * b * b % P, r * b % P
    return r


def py_public_key(priv: int) -> int:
    pt = _mul(priv, G)
    assert pt is not None
    return pt[0]


def py_verify(pub_x: int, msg_hash: int, r: int, s: int) -> bool:
    w = pow(s, -1, N)
    y = _y_of(pub_x)
    for q in ((pub_x, y), (pub_x, P - y)):
        pt = _add(_mul(msg_hash * w % N, G), _mul(r * w % N, q))
        if pt is not None and pt[0] == r:
            return True
    return False


# Published test vectors of starknet-crypto (private key, its public key; Pedersen pairs).
TEST_PRIVATE_KEY = 2708384690123958484688745363115889726043588718997906908187752842753359350371
TEST_PUBLIC_KEY = 1673729114437878727516854592246827335452530539480870878860719335128967723895
PEDERSEN_VECTORS = [
    (0, 0, 2089986280348253421170679821480865132823066470938446095505822317253594081284),
    (1, 1, 1321142004022994845681377299801403567378503530250467610343381590909832171180),
    (132490123765801925, 19324857132905126,
     351268190682426987433778012669634681582518614860795408913953487271166523161),
]

felts = st.integers(min_value=1, max_value=2**251 - 1)


def test_both_sdks_import_in_one_environment() -> None:
    import paradex_py
    import pysdk.grvt_ccxt_ws
    import websockets

    assert paradex_py.Paradex is not None
    assert pysdk.grvt_ccxt_ws.GrvtCcxtWS is not None
    assert int(websockets.__version__.split(".")[0]) == 15
    # grvt-pysdk's own metadata still asks for 13.1: the override is what reconciles them.
    assert any("websockets==13.1" in r for r in importlib.metadata.requires("grvt-pysdk") or [])


def test_starknet_crypto_is_the_project_drop_in() -> None:
    assert importlib.metadata.version("starknet-crypto-py").endswith("+perpflow")


def test_public_key_matches_published_vector_and_independent_implementations() -> None:
    from paradex_py.account.utils import private_to_stark_key

    assert private_to_stark_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY
    assert fast_stark_crypto.get_public_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY
    assert py_public_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY


@pytest.mark.parametrize(("left", "right", "expected"), PEDERSEN_VECTORS)
def test_pedersen_matches_published_vectors(left: int, right: int, expected: int) -> None:
    from paradex_py.account.utils import pedersen_hash

    assert pedersen_hash(left, right) == expected


@settings(max_examples=25, deadline=None)
@given(left=felts, right=felts)
def test_pedersen_matches_rust_implementation(left: int, right: int) -> None:
    from paradex_py.account.utils import pedersen_hash

    assert pedersen_hash(left, right) == fast_stark_crypto.pedersen_hash(left, right)


@settings(max_examples=10, deadline=None)
@given(priv=felts, msg_hash=felts)
def test_signatures_equal_rust_and_verify_in_pure_python(priv: int, msg_hash: int) -> None:
    import starknet_crypto_py
    from paradex_py.account.utils import message_signature, private_to_stark_key, verify_message_signature

    pub = private_to_stark_key(priv)
    assert pub == fast_stark_crypto.get_public_key(priv)
    # Without extra entropy the RFC 6979 nonce is the same everywhere: signatures must be equal.
    assert starknet_crypto_py.sign(priv, msg_hash, 0) == fast_stark_crypto.sign(priv, msg_hash)
    # paradex-py's own call (seed 32) verifies under both independent implementations.
    r, s = message_signature(msg_hash, priv)
    assert fast_stark_crypto.verify(pub, msg_hash, r, s)
    assert py_verify(pub, msg_hash, r, s)
    assert verify_message_signature(msg_hash, [r, s], pub)


def test_a_tampered_signature_is_rejected_everywhere() -> None:
    from paradex_py.account.utils import message_signature, verify_message_signature

    r, s = message_signature(4660, TEST_PRIVATE_KEY)
    assert not verify_message_signature(4661, [r, s], TEST_PUBLIC_KEY)
    assert not py_verify(TEST_PUBLIC_KEY, 4661, r, s)
    assert not fast_stark_crypto.verify(TEST_PUBLIC_KEY, 4660, r, (s + 1) % N)

"""One environment holds both venue SDKs, and paradex-py signs like an independent implementation.

paradex-py (websockets 15, starknet-crypto-py) and grvt-pysdk (pins websockets 13.1) cannot share
an environment as published; pyproject.toml overrides the pin and serves starknet-crypto-py from
compat/. These tests prove both imports work and that the signing primitives paradex-py calls
agree with two independent implementations: fast-stark-crypto (a Rust build of starknet-crypto)
and the pure-Python Stark-curve arithmetic in tests/stark.py.
"""

from __future__ import annotations

import importlib.metadata

import fast_stark_crypto
import pytest
from crypto_cpp_py.cpp_bindings import cpp_get_public_key, cpp_sign
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.stark import PEDERSEN_VECTORS, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, N, py_public_key, py_verify

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
    assert "+perpflow" in importlib.metadata.version("starknet-crypto-py")


def test_public_key_matches_published_vector_and_independent_implementations() -> None:
    from paradex_py.account.utils import private_to_stark_key

    assert private_to_stark_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY
    assert cpp_get_public_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY  # StarkWare's C++
    assert py_public_key(TEST_PRIVATE_KEY) == TEST_PUBLIC_KEY  # pure Python


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
def test_signatures_equal_independent_signers_and_verify_in_pure_python(priv: int, msg_hash: int) -> None:
    import starknet_crypto_py
    from paradex_py.account.utils import message_signature, private_to_stark_key, verify_message_signature

    pub = private_to_stark_key(priv)
    assert pub == cpp_get_public_key(priv)
    # paradex-py's own call (seed 32) is bit-identical to StarkWare's complete C++ signing path ...
    r, s = message_signature(msg_hash, priv)
    assert (r, s) == cpp_sign(msg_hash, priv, 32)
    # ... and without extra entropy to the Rust signer's (the RFC 6979 nonce is the same everywhere).
    assert starknet_crypto_py.sign(priv, msg_hash, 0) == fast_stark_crypto.sign(priv, msg_hash)
    assert fast_stark_crypto.verify(pub, msg_hash, r, s)
    assert py_verify(pub, msg_hash, r, s)
    assert verify_message_signature(msg_hash, [r, s], pub)


def test_a_tampered_signature_is_rejected_everywhere() -> None:
    from paradex_py.account.utils import message_signature, verify_message_signature

    r, s = message_signature(4660, TEST_PRIVATE_KEY)
    assert not verify_message_signature(4661, [r, s], TEST_PUBLIC_KEY)
    assert not py_verify(TEST_PUBLIC_KEY, 4661, r, s)
    assert not fast_stark_crypto.verify(TEST_PUBLIC_KEY, 4660, r, (s + 1) % N)

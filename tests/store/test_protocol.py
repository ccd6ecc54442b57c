"""``Store`` satisfies ``StoreProtocol``: every method, with the same parameters (names,
kinds, defaults and annotations) and return annotation, and the protocol lists every
public method of ``Store``."""

from __future__ import annotations

import inspect
from pathlib import Path

from matloop.store import Store, StoreProtocol

ATTRIBUTES = {"safe_url"}  # the protocol's data members


def protocol_methods() -> list[str]:
    return sorted(name for name, value in vars(StoreProtocol).items()
                  if callable(value) and not name.startswith("_"))


def test_a_store_is_a_store_protocol(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert isinstance(store, StoreProtocol)
    finally:
        store.engine.dispose()


def test_every_protocol_method_has_the_stores_signature() -> None:
    methods = protocol_methods()
    assert len(methods) == 32, methods  # + campaign_names (related campaigns)
    for name in methods:
        wanted = inspect.signature(getattr(StoreProtocol, name))
        found = inspect.signature(getattr(Store, name))
        assert [(p.name, p.kind, p.default, p.annotation)
                for p in found.parameters.values()] == \
            [(p.name, p.kind, p.default, p.annotation)
             for p in wanted.parameters.values()], name
        assert found.return_annotation == wanted.return_annotation, name
        assert (getattr(StoreProtocol, name).__doc__ or "").strip(), f"{name}: no docstring"


def test_the_protocol_lists_every_public_method_of_the_store() -> None:
    public = sorted(name for name, value in vars(Store).items()
                    if callable(value) and not name.startswith("_"))
    assert public == protocol_methods()
    hints = StoreProtocol.__annotations__
    assert set(hints) == ATTRIBUTES


def test_something_without_a_method_is_not_a_store_protocol(tmp_path: Path) -> None:
    """(The isinstance check does look at the methods.)"""

    class Partial:
        safe_url = "x"

        def counts(self, campaign_id: int) -> dict[str, int]:
            return {}

    assert not isinstance(Partial(), StoreProtocol)

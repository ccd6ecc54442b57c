"""ASE calculators by name: a registry of factories, and the provenance of each.

``make_calculator(name, parameters, directory)`` builds a fresh calculator. ``parameters``
is a plain dict (as read from a campaign file) passed on to the calculator; ``directory``
is the evaluation's scratch folder, where file-based calculators write their input and
output. Known names:

``emt``
    ``ase.calculators.emt.EMT(**parameters)``: effective-medium theory, ships with ASE
    (Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N, O crudely). For tests and demonstrations.
``chgnet``
    ``chgnet.model.dynamics.CHGNetCalculator(**parameters)``: a universal machine-learned
    potential; the pretrained weights ship with the ``chgnet`` package (``pip install
    chgnet``).
``sevennet``
    ``sevenn.calculator.SevenNetCalculator(**parameters)``: the SevenNet universal
    potential, by default ``model = "7net-0"`` on ``device = "cpu"``; the pretrained
    weights (``7net-0``, ``7net-l3i5``, ``7net-mf-0``) ship inside the ``sevenn`` wheel
    (``pip install sevenn``).
``gpaw``
    ``gpaw.GPAW(**parameters)``, e.g. ``{"mode": {"name": "pw", "ecut": 250}, "kpts":
    [4, 4, 4], "xc": "PBE"}``; its text output ``txt`` (default ``gpaw.txt``) is written
    into ``directory``. ``pip install gpaw`` compiles a C extension (it needs a C++
    compiler, libxc, BLAS and LAPACK, e.g. Debian's ``g++ libxc-dev libblas-dev
    liblapack-dev``; ``.ci/install-dft`` does it all) and brings the PAW setups in the
    ``gpaw-data`` package, which GPAW finds by itself (no ``GPAW_SETUP_PATH``). Debian's
    ``gpaw`` package is built for the system python, not a virtual environment.
``espresso``
    ``ase.calculators.espresso.Espresso`` running Quantum ESPRESSO's ``pw.x`` in
    ``directory``. Parameters: ``pseudo_dir`` (default ``/usr/share/espresso/pseudo``),
    ``command`` (the whole command line, e.g. ``"mpirun -np 4 pw.x"``) or ``pw`` (the path
    of ``pw.x``; default ``pw.x`` on ``PATH``); everything else (``pseudopotentials``,
    ``input_data``, ``kpts``, ...) goes to ``Espresso``, with ``tstress`` and ``tprnfor``
    switched on unless ``input_data`` sets them (``apt-get install
    quantum-espresso quantum-espresso-data``; the latter puts QE's example UPF files, e.g.
    ``Al.pz-vbc.UPF``, into the default ``pseudo_dir``).
``"package.module:factory"``
    Any other calculator: the module is imported and ``factory(**parameters)`` called;
    ``directory=`` is added when the factory has an explicit ``directory`` parameter and
    ``parameters`` does not set it. VASP, for example, is ``"ase.calculators.vasp:Vasp"``
    with parameters such as ``{"xc": "PBE", "encut": 400, "kpts": [6, 6, 6]}`` (and the
    ``ASE_VASP_COMMAND`` and ``VASP_PP_PATH`` environment variables set).

Errors: an unknown name or a malformed ``module:factory`` string raises ``ValueError``
listing the known names; a missing optional package or program raises
``MissingCalculatorPackage``, an ``ImportError`` whose message says what to install.
The packages are imported only when a calculator is made.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import json
import shlex
import shutil
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ase.calculators.calculator import BaseCalculator, Calculator

__all__ = [
    "CALCULATORS",
    "DEFAULT_PSEUDO_DIR",
    "CalculatorFactory",
    "MissingCalculatorPackage",
    "calculator_provenance",
    "check_elements",
    "make_calculator",
]

CalculatorFactory = Callable[[Mapping[str, Any], Path], "BaseCalculator"]
"""``(parameters, directory) -> calculator``."""

DEFAULT_PSEUDO_DIR = "/usr/share/espresso/pseudo"


class MissingCalculatorPackage(ImportError):
    """An optional package (or program) a calculator needs is not installed.

    ``package`` is what to install; ``install`` is how (e.g. ``pip install chgnet``).
    """

    def __init__(self, calculator: str, package: str, install: str) -> None:
        super().__init__(f"the {calculator!r} calculator needs {package}, which is not "
                         f"installed; install it with: {install}", name=package)
        self.calculator = calculator
        self.package = package
        self.install = install


def _missing(calculator: str, exc: ModuleNotFoundError, package: str, install: str
             ) -> MissingCalculatorPackage:
    """The error for a failed import: the package itself, or a dependency of it."""
    missing = (exc.name or package).split(".")[0]
    if missing == package:
        return MissingCalculatorPackage(calculator, f"the {package} package", install)
    return MissingCalculatorPackage(calculator, f"{missing} (a dependency of {package})",
                                    f"pip install {missing}")


def _emt(parameters: Mapping[str, Any], directory: Path) -> BaseCalculator:
    from ase.calculators.emt import EMT

    return EMT(**parameters)


def _chgnet(parameters: Mapping[str, Any], directory: Path) -> BaseCalculator:
    try:
        from chgnet.model.dynamics import CHGNetCalculator
    except ModuleNotFoundError as exc:
        raise _missing("chgnet", exc, "chgnet", "pip install chgnet") from exc
    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet v0.3.0 initialized ...", per worker
        calculator: BaseCalculator = CHGNetCalculator(**parameters)
    return calculator


def _sevennet(parameters: Mapping[str, Any], directory: Path) -> BaseCalculator:
    key = json.dumps(_jsonable(dict(parameters)), sort_keys=True)
    calculator = _loaded_sevennet(key, threading.get_ident())
    calculator.reset()
    return calculator


@functools.lru_cache(maxsize=4)
def _loaded_sevennet(parameters_json: str, thread: int) -> Calculator:
    """One SevenNet calculator per thread and parameters: building one reads and compiles
    the checkpoint (2.7 s each time here, 8 s the first), so the evaluations a worker runs
    one after another share it; two threads never do."""
    kwargs = {"model": "7net-0", "device": "cpu", **json.loads(parameters_json)}
    # "no tensor-product accelerator" and torch.jit deprecation warnings, once per worker
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            from sevenn.calculator import SevenNetCalculator
        except ModuleNotFoundError as exc:
            raise _missing("sevennet", exc, "sevenn", "pip install sevenn") from exc
        calculator: Calculator = SevenNetCalculator(**kwargs)
    return calculator


def _gpaw(parameters: Mapping[str, Any], directory: Path) -> BaseCalculator:
    try:
        from gpaw import GPAW
    except ModuleNotFoundError as exc:
        raise _missing("gpaw", exc, "gpaw", "pip install gpaw (it compiles against libxc "
                       "and BLAS: apt-get install g++ libxc-dev libblas-dev liblapack-dev "
                       "first)") from exc
    kwargs = dict(parameters)
    txt = kwargs.get("txt", "gpaw.txt")
    if txt is not None and txt != "-" and not hasattr(txt, "write"):
        txt = Path(directory) / Path(txt).name
    kwargs["txt"] = str(txt) if isinstance(txt, Path) else txt
    # gpaw's own type (its new ASECalculator) is not an ASE BaseCalculator subclass
    return cast("BaseCalculator", GPAW(**kwargs))


def _espresso(parameters: Mapping[str, Any], directory: Path) -> BaseCalculator:
    from ase.calculators.espresso import Espresso, EspressoProfile

    kwargs = dict(parameters)
    pseudo_dir = str(kwargs.pop("pseudo_dir", DEFAULT_PSEUDO_DIR))
    command, program = espresso_command(kwargs)
    kwargs.pop("pw", None)
    kwargs.pop("command", None)
    if shutil.which(program) is None:
        raise MissingCalculatorPackage(
            "espresso", f"Quantum ESPRESSO's pw.x (looked for {program!r})",
            "apt-get install quantum-espresso (or set 'pw'/'command' to pw.x's path)")
    kwargs["input_data"] = _with_stress_and_forces(kwargs.get("input_data") or {})
    profile = EspressoProfile(command=command, pseudo_dir=pseudo_dir)
    return Espresso(profile=profile, directory=str(directory), **kwargs)


def espresso_command(parameters: Mapping[str, Any]) -> tuple[str, str]:
    """The command line that runs pw.x (``command``, else ``pw``, else ``pw.x``) and the
    program in it to look for on ``PATH`` (the word ending in ``pw.x``, else the first)."""
    pw = str(parameters.get("pw", "pw.x"))
    command = str(parameters.get("command", shlex.quote(pw)))
    words = shlex.split(command)
    program = next((word for word in words if word.endswith("pw.x")),
                   words[0] if words else pw)
    return command, program


def _with_stress_and_forces(input_data: Mapping[str, Any]) -> dict[str, Any]:
    """pw.x ``input_data`` (namelists, or flat keys) asking for the stress and forces that
    every recipe but ``energy`` needs (pw.x computes neither unless told), unless set."""
    data = {key: dict(value) if isinstance(value, Mapping) else value
            for key, value in input_data.items()}
    nested = any(isinstance(value, dict) for value in data.values())
    control = data.setdefault("control", {}) if nested else data
    control.setdefault("tstress", True)
    control.setdefault("tprnfor", True)
    return data


CALCULATORS: dict[str, CalculatorFactory] = {
    "emt": _emt,
    "chgnet": _chgnet,
    "sevennet": _sevennet,
    "gpaw": _gpaw,
    "espresso": _espresso,
}

# calculator name -> the distribution whose version goes into the provenance
_PACKAGES: dict[str, str] = {"emt": "ase", "chgnet": "chgnet", "sevennet": "sevenn",
                             "gpaw": "gpaw", "espresso": "ase"}


def make_calculator(name: str, parameters: Mapping[str, Any] | None = None,
                    directory: str | Path = ".") -> BaseCalculator:
    """A new ASE calculator ``name`` built with ``parameters``, working in ``directory``.

    ``name`` is a key of ``CALCULATORS`` or ``"package.module:factory"``. ``directory`` is
    created if missing. Raises ``ValueError`` for an unknown name and
    ``MissingCalculatorPackage`` (an ``ImportError``) when a needed package is absent.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    factory = CALCULATORS.get(name)
    if factory is not None:
        return factory(parameters, directory)
    return _from_import_path(name, parameters, directory)


def _split_import_path(name: str) -> tuple[str, str]:
    module, sep, attribute = name.partition(":")
    if not sep or not module or not attribute.isidentifier():
        raise ValueError(f"unknown ASE calculator {name!r}; use one of "
                         f"{', '.join(sorted(CALCULATORS))} or 'package.module:factory' "
                         "(e.g. 'ase.calculators.vasp:Vasp')")
    return module, attribute


def _from_import_path(name: str, parameters: dict[str, Any],
                      directory: Path) -> BaseCalculator:
    module_name, attribute = _split_import_path(name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module_name).split(".")[0]
        raise MissingCalculatorPackage(name, f"the {missing} package",
                                       f"pip install {missing}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"calculator {name!r}: module {module_name!r} has no callable "
                         f"{attribute!r}")
    if "directory" not in parameters and _takes_directory(factory):
        parameters["directory"] = str(directory)
    calculator = factory(**parameters)
    if not hasattr(calculator, "get_potential_energy"):
        raise ValueError(f"calculator {name!r} returned {type(calculator).__name__}, "
                         "not an ASE calculator")
    result: BaseCalculator = calculator
    return result


def _takes_directory(factory: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    parameter = signature.parameters.get("directory")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


# Elements EMT describes well; the others it has parameters for are there for adsorbates.
EMT_METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")
EMT_CRUDE = ("H", "C", "N", "O")


def check_elements(name: str, symbols: Iterable[str], what: str) -> None:
    """``EvaluationFailure`` (``invalid``) when calculator ``name`` has no parameters for
    an element of ``symbols`` (known for ``emt`` only; ``what`` names the candidate)."""
    if name != "emt":
        return
    from ase.calculators.emt import parameters

    from matloop.errors import EvaluationFailure

    for element in symbols:
        if element not in parameters:
            metals = ", ".join(el for el in EMT_METALS if el in parameters)
            crude = ", ".join(el for el in EMT_CRUDE if el in parameters)
            raise EvaluationFailure(f"the EMT calculator has no parameters for {element} "
                                    f"(in {what}); it supports {metals} (and {crude}, "
                                    "crudely)", reason="invalid")


def calculator_provenance(name: str, parameters: Mapping[str, Any] | None = None
                          ) -> dict[str, Any]:
    """What to record about a calculator: name, package and version, parameters.

    ``{"calculator", "package", "version", "ase_version", "parameters"}``; ``version`` is
    ``None`` when the package is not installed. Parameters are made JSON-able (tuples and
    arrays become lists, paths strings, anything else its ``repr``). Imports nothing heavy.
    """
    if name in CALCULATORS:
        package = _PACKAGES.get(name, name)
    else:
        package = _split_import_path(name)[0].split(".")[0]
    return {
        "calculator": name,
        "package": package,
        "version": _version(package),
        "ase_version": _version("ase"),
        "parameters": _jsonable(dict(parameters or {})),
    }


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    for distribution in metadata.packages_distributions().get(package, []):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return _jsonable(tolist())
    return repr(value)

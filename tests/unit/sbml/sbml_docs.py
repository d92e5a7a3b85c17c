"""Small SBML documents written out for the tests (SBML L3V2 core unless said otherwise)."""

from __future__ import annotations

L3V2 = "http://www.sbml.org/sbml/level3/version2/core"
MATHML = "http://www.w3.org/1998/Math/MathML"


def sbml(model: str, *, level: int = 3, version: int = 2, extra_ns: str = "") -> str:
    """A document around ``model`` (the children of <model>)."""
    ns = (
        f"http://www.sbml.org/sbml/level{level}/version{version}/core"
        if level == 3
        else f"http://www.sbml.org/sbml/level{level}/version{version}"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sbml xmlns="{ns}" level="{level}" version="{version}"{extra_ns}>\n'
        f'<model id="m" name="test model" timeUnits="second">\n{model}\n</model>\n</sbml>\n'
    )


def math(content: str) -> str:
    """A MathML <math> element around ``content``."""
    return f'<math xmlns="{MATHML}">{content}</math>'


def ci(name: str) -> str:
    return f"<ci>{name}</ci>"


def cn(value: float | int) -> str:
    return f"<cn>{value}</cn>"


def apply(op: str, *args: str) -> str:
    return f"<apply><{op}/>{''.join(args)}</apply>"


def parameter(pid: str, value: float | None = None, *, constant: bool = True,
              units: str = "") -> str:  # fmt: skip
    v = "" if value is None else f' value="{value}"'
    u = f' units="{units}"' if units else ""
    return f'<parameter id="{pid}"{v}{u} constant="{str(constant).lower()}"/>'


def compartment(cid: str = "c", size: float | None = 1.0, *, constant: bool = True) -> str:
    s = "" if size is None else f' size="{size}"'
    return f'<compartment id="{cid}"{s} spatialDimensions="3" constant="{str(constant).lower()}"/>'


def species(sid: str, *, amount: float | None = None, conc: float | None = None,
            comp: str = "c", only_substance: bool = False, boundary: bool = False,
            constant: bool = False) -> str:  # fmt: skip
    init = (f' initialAmount="{amount}"' if amount is not None else "") + (
        f' initialConcentration="{conc}"' if conc is not None else ""
    )
    return (
        f'<species id="{sid}" compartment="{comp}"{init} '
        f'hasOnlySubstanceUnits="{str(only_substance).lower()}" '
        f'boundaryCondition="{str(boundary).lower()}" constant="{str(constant).lower()}"/>'
    )


def reaction(rid: str, reactants: dict[str, float], products: dict[str, float], law: str,
             local: str = "") -> str:  # fmt: skip
    def refs(tag: str, d: dict[str, float]) -> str:
        if not d:
            return ""
        inner = "".join(
            f'<speciesReference species="{s}" stoichiometry="{n}" constant="true"/>'
            for s, n in d.items()
        )
        return f"<{tag}>{inner}</{tag}>"

    loc = f"<listOfLocalParameters>{local}</listOfLocalParameters>" if local else ""
    return (
        f'<reaction id="{rid}" reversible="false">{refs("listOfReactants", reactants)}'
        f"{refs('listOfProducts', products)}<kineticLaw>{math(law)}{loc}</kineticLaw></reaction>"
    )


def listof(tag: str, *items: str) -> str:
    return f"<{tag}>{''.join(items)}</{tag}>" if items else ""


def model_doc(*, compartments=(), species_=(), parameters=(), rules=(), initial=(),
              reactions=(), functions=(), events=()) -> str:  # fmt: skip
    """An L3V2 document from lists of element strings."""
    return sbml(
        listof("listOfFunctionDefinitions", *functions)
        + listof("listOfCompartments", *compartments)
        + listof("listOfSpecies", *species_)
        + listof("listOfParameters", *parameters)
        + listof("listOfInitialAssignments", *initial)
        + listof("listOfRules", *rules)
        + listof("listOfReactions", *reactions)
        + listof("listOfEvents", *events)
    )


def assignment_rule(var: str, content: str) -> str:
    return f'<assignmentRule variable="{var}">{math(content)}</assignmentRule>'


def rate_rule(var: str, content: str) -> str:
    return f'<rateRule variable="{var}">{math(content)}</rateRule>'


def initial_assignment(symbol: str, content: str) -> str:
    return f'<initialAssignment symbol="{symbol}">{math(content)}</initialAssignment>'


TIME = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>'
RATE_OF = (
    '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/rateOf">'
    "rateOf</csymbol>"
)
DELAY = (
    '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">'
    "delay</csymbol>"
)

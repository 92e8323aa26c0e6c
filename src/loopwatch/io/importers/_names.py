"""Names → deal-book firm ids, the outside world, and role guesses.

Third-party lists spell the same firm many ways (``NVIDIA``, ``nvidia``,
``Nvidia Corp.``; ``Microsoft (Azure)``; ``AWS``). :func:`firm_id` folds them
into one deal-book id in four steps: ASCII-fold and lower-case; turn
separators (``_ - / .``) into spaces and drop other punctuation; look the
result up in :data:`ALIASES`, then again without parenthesised qualifiers and
corporate suffixes (``inc``, ``corp`` ...); finally join the words with ``-``.

Nodes that stand for outside markets (``SINK_*`` in bubble-map, the aggregate
``*_INVESTORS`` / ``*_IPO_Public`` / ``*_Subscribers`` nodes, ``world``) are
the world, not firms: :func:`is_world` says so and the importers count such
rows as ``outside market``.
"""

from __future__ import annotations

import re
import unicodedata

from loopwatch.model import ContractType, Role

__all__ = ["ALIASES", "KNOWN_FIRMS", "display_name", "firm_id", "guess_role", "is_world"]

ALIASES: dict[str, str] = {
    # chip vendors
    "nvda": "nvidia",
    "advanced micro devices": "amd",
    "skhynix": "sk-hynix",
    "sk hynix": "sk-hynix",
    "taiwan semiconductor": "tsmc",
    "taiwan semiconductor manufacturing": "tsmc",
    # clouds
    "microsoft azure": "microsoft",
    "azure": "microsoft",
    "msft": "microsoft",
    "amazon web services": "amazon",
    "aws": "amazon",
    "amazon com": "amazon",
    "google cloud": "google",
    "google cloud platform": "google",
    "gcp": "google",
    "alphabet": "google",
    "google deepmind": "google",
    "oracle cloud": "oracle",
    "oracle cloud infrastructure": "oracle",
    "oci": "oracle",
    "core weave": "coreweave",
    # model developers
    "open ai": "openai",
    "x ai": "xai",
    "meta platforms": "meta",
    "facebook": "meta",
    "scaleai": "scale-ai",
    "huggingface": "hugging-face",
    "stabilityai": "stability-ai",
    "mistral ai": "mistral",
    # investors and lenders
    "softbank group": "softbank",
    "blueowl": "blue-owl",
    "blue owl capital": "blue-owl",
    "jp morgan": "jpmorgan",
    "jpmorgan chase": "jpmorgan",
    "stargate llc": "stargate",
}
"""Normalised spelling (lower-case words) → deal-book id."""

KNOWN_FIRMS: dict[str, tuple[str, Role]] = {
    "nvidia": ("Nvidia", Role.chip_vendor),
    "amd": ("AMD", Role.chip_vendor),
    "intel": ("Intel", Role.chip_vendor),
    "broadcom": ("Broadcom", Role.chip_vendor),
    "tsmc": ("TSMC", Role.chip_vendor),
    "sk-hynix": ("SK Hynix", Role.chip_vendor),
    "micron": ("Micron", Role.chip_vendor),
    "samsung": ("Samsung", Role.chip_vendor),
    "arm": ("Arm", Role.chip_vendor),
    "cerebras": ("Cerebras", Role.chip_vendor),
    "groq": ("Groq", Role.chip_vendor),
    "microsoft": ("Microsoft", Role.cloud),
    "amazon": ("Amazon", Role.cloud),
    "google": ("Google", Role.cloud),
    "oracle": ("Oracle", Role.cloud),
    "coreweave": ("CoreWeave", Role.cloud),
    "nebius": ("Nebius", Role.cloud),
    "lambda": ("Lambda", Role.cloud),
    "crusoe": ("Crusoe", Role.cloud),
    "nscale": ("Nscale", Role.cloud),
    "ibm": ("IBM", Role.cloud),
    "vantage": ("Vantage Data Centers", Role.cloud),
    "openai": ("OpenAI", Role.model_developer),
    "anthropic": ("Anthropic", Role.model_developer),
    "xai": ("xAI", Role.model_developer),
    "meta": ("Meta", Role.model_developer),
    "mistral": ("Mistral AI", Role.model_developer),
    "cohere": ("Cohere", Role.model_developer),
    "runway": ("Runway", Role.model_developer),
    "stability-ai": ("Stability AI", Role.model_developer),
    "hugging-face": ("Hugging Face", Role.model_developer),
    "scale-ai": ("Scale AI", Role.model_developer),
    "windsurf": ("Windsurf", Role.model_developer),
    "midjourney": ("Midjourney", Role.model_developer),
    "perplexity": ("Perplexity", Role.model_developer),
    "stargate": ("Stargate", Role.spv),
    "blue-owl": ("Blue Owl", Role.lender),
    "pimco": ("PIMCO", Role.lender),
    "blackrock": ("BlackRock", Role.lender),
    "blackstone": ("Blackstone", Role.lender),
    "apollo": ("Apollo", Role.lender),
    "apollo-blackstone": ("Apollo and Blackstone", Role.lender),
    "jpmorgan": ("JPMorgan", Role.lender),
    "morgan-stanley": ("Morgan Stanley", Role.lender),
    "goldman-sachs": ("Goldman Sachs", Role.lender),
    "mufg": ("MUFG", Role.lender),
    "softbank": ("SoftBank", Role.investor),
    "mgx": ("MGX", Role.investor),
    "gic": ("GIC", Role.investor),
    "temasek": ("Temasek", Role.investor),
    "thrive-capital": ("Thrive Capital", Role.investor),
}
"""Deal-book id → (display name, role) for the firms the importer knows."""

_SUFFIXES = {"inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited",
             "llc", "plc", "ag", "sa", "nv"}
_WORLD_NAMES = {"world", "outside", "outside market", "end customers", "public"}
_WORLD_TAILS = (" investors", " ipo public", " subscribers")
_SPACES = re.compile(r"\s+")


def _words(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[_\-/.]+", " ", text)
    text = re.sub(r"[^a-z0-9()\s]", "", text)
    return _SPACES.sub(" ", text).strip()


def is_world(name: str) -> bool:
    """Whether a node name stands for the outside world rather than a firm.

    ``SINK_*`` nodes (bubble-map's outside markets), ``world``, and aggregate
    outside parties named ``*_INVESTORS``, ``*_IPO_Public`` or
    ``*_Subscribers`` are the world.

    Examples
    --------
    >>> is_world("SINK_bondmarket"), is_world("Starlink_Subscribers"), is_world("Oracle")
    (True, True, False)
    """
    words = _words(name).replace("(", " ").replace(")", " ")
    words = _SPACES.sub(" ", words).strip()
    return (name.strip().upper().startswith("SINK_") or words.startswith("sink ")
            or words in _WORLD_NAMES or words.endswith(_WORLD_TAILS))


def firm_id(name: str) -> str:
    """The deal-book id for a firm name as third-party lists write it.

    Parameters
    ----------
    name : str
        A name or slug: ``"NVIDIA"``, ``"Microsoft (Azure)"``, ``"Meta_Hyperion_SPV"``.

    Returns
    -------
    str
        A deal-book id (``^[a-z0-9][a-z0-9_-]*$``), or ``""`` if the name has
        no letters or digits.

    Examples
    --------
    >>> [firm_id(n) for n in ("NVIDIA", "nvidia", "Nvidia Corp.", "Microsoft (Azure)")]
    ['nvidia', 'nvidia', 'nvidia', 'microsoft']
    >>> firm_id("Amazon Web Services"), firm_id("AWS"), firm_id("Google Cloud")
    ('amazon', 'amazon', 'google')
    >>> firm_id("Meta_Hyperion_SPV"), firm_id("sk-hynix"), firm_id("ScaleAI")
    ('meta-hyperion-spv', 'sk-hynix', 'scale-ai')
    """
    full = _words(name)
    flat = _SPACES.sub(" ", full.replace("(", " ").replace(")", " ")).strip()
    bare = _SPACES.sub(" ", re.sub(r"\([^)]*\)", " ", full)).strip()
    bare = bare.replace("(", " ").replace(")", " ").strip()
    words = bare.split()
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    stripped = " ".join(words)
    for key in (flat, bare, stripped):
        if key in ALIASES:
            return ALIASES[key]
    return stripped.replace(" ", "-")


def display_name(fid: str, raw: str | None = None) -> str:
    """A firm's display name: the known name, else the source's spelling tidied.

    Examples
    --------
    >>> display_name("nvidia", "NVIDIA"), display_name("meta-hyperion-spv", "Meta_Hyperion_SPV")
    ('Nvidia', 'Meta Hyperion SPV')
    """
    if fid in KNOWN_FIRMS:
        return KNOWN_FIRMS[fid][0]
    if raw and raw.strip():
        return _SPACES.sub(" ", raw.replace("_", " ")).strip()
    return fid


def guess_role(fid: str, positions: set[tuple[str, ContractType]]) -> tuple[Role, str]:
    """Guess a firm's role and say how.

    Parameters
    ----------
    fid : str
        The firm id.
    positions : set of (side, ContractType)
        Where the firm appears in the imported contracts: ``("payer", type)``
        or ``("payee", type)``.

    Returns
    -------
    (Role, str)
        The role and the reason, for the firm's notes.

    Notes
    -----
    Order: the table of known names (:data:`KNOWN_FIRMS`); an id containing
    ``spv``; then the contracts: payee of a chip purchase → chip vendor;
    payee of a compute commitment or backstop → cloud; payer of a compute
    commitment → model developer; payer of a loan or bond → lender;
    otherwise investor.

    Examples
    --------
    >>> guess_role("nvidia", set())[0].value
    'chip_vendor'
    >>> guess_role("spacex", {("payee", ContractType.compute_commitment)})
    (<Role.cloud: 'cloud'>, 'payee of a compute commitment')
    >>> guess_role("acme", set())
    (<Role.investor: 'investor'>, 'default for names the importer does not know')
    """
    if fid in KNOWN_FIRMS:
        return KNOWN_FIRMS[fid][1], "table of known names"
    if "spv" in fid.split("-"):
        return Role.spv, "'spv' in its name"
    rules: list[tuple[str, tuple[ContractType, ...], Role, str]] = [
        ("payee", (ContractType.chip_purchase,), Role.chip_vendor, "payee of a chip purchase"),
        ("payee", (ContractType.compute_commitment,), Role.cloud, "payee of a compute commitment"),
        ("payee", (ContractType.backstop,), Role.cloud, "beneficiary of a capacity backstop"),
        ("payer", (ContractType.compute_commitment,), Role.model_developer,
         "payer of a compute commitment"),
        ("payer", (ContractType.loan, ContractType.bond), Role.lender, "lender of a loan"),
    ]
    for side, types, role, why in rules:
        if any((side, t) in positions for t in types):
            return role, why
    return Role.investor, "default for names the importer does not know"

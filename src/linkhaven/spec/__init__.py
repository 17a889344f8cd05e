"""Project specs: the models (vocabulary, sources, governance, linkage, panels, releases, indicators,
composed in `project`), the YAML loader and the public notice rendered from them."""

from linkhaven.spec.governance import (
    Category,
    Contact,
    LegalAuthority,
    Notice,
    Population,
    Project,
    Recipient,
    Retention,
    RetentionDays,
    Revision,
    Thresholds,
    Window,
)
from linkhaven.spec.indicators import IndicatorSet
from linkhaven.spec.linkage import Linkage
from linkhaven.spec.loader import load_spec, parse_spec, spec_hash
from linkhaven.spec.notice import NoticeFormat, build_notice, render_notice
from linkhaven.spec.project import ProjectSpec
from linkhaven.spec.releases import ReleaseSection
from linkhaven.spec.sources import CodeEntry, Field, FileFormat, Source
from linkhaven.spec.vocabulary import (
    IPC_RISK_THRESHOLDS,
    Assessment,
    DataClass,
    DisclosureBasis,
    Encoding,
    FieldType,
    FileType,
    InvasionLevel,
    LegalSourceType,
    Purpose,
    RecipientKind,
    Role,
)

__all__ = [
    "IPC_RISK_THRESHOLDS",
    "Assessment",
    "Category",
    "CodeEntry",
    "Contact",
    "DataClass",
    "DisclosureBasis",
    "Encoding",
    "Field",
    "FieldType",
    "FileFormat",
    "FileType",
    "IndicatorSet",
    "InvasionLevel",
    "LegalAuthority",
    "LegalSourceType",
    "Linkage",
    "Notice",
    "NoticeFormat",
    "Population",
    "Project",
    "ProjectSpec",
    "Purpose",
    "Recipient",
    "ReleaseSection",
    "RecipientKind",
    "Retention",
    "RetentionDays",
    "Revision",
    "Role",
    "Source",
    "Thresholds",
    "Window",
    "build_notice",
    "load_spec",
    "parse_spec",
    "render_notice",
    "spec_hash",
]

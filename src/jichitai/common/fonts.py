"""Where the Japanese fonts are: Debian's packages, installed by `make demo` / `make fonts`. Never the internet."""
from pathlib import Path

FONT_FILES = {
    "ipamjm.ttf": ["/usr/share/fonts/truetype/ipamj/ipamjm.ttf", "/usr/share/fonts/opentype/ipamj/ipamjm.ttf"],
    "ipaexm.ttf": ["/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
                   "/usr/share/fonts/truetype/ipaexfont-mincho/ipaexm.ttf"],
    "ipaexg.ttf": ["/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
                   "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"],
}


def font_path(name: str) -> Path | None:
    for candidate in FONT_FILES.get(name, []):
        path = Path(candidate)
        if path.exists():
            return path
    return None

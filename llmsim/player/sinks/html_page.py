"""A self-contained HTML page: the vendored asciinema web player with a cast embedded in it.

The page loads nothing from the network: the player's JS and CSS (npm `asciinema-player`,
Apache-2.0, licence in assets/) are inlined, and so is the cast, so it plays offline in any
browser from a file:// URL or an e-mail attachment. The page is written as a stream: the part
before the cast, the cast as it is recorded (a JSON string, escaped piece by piece), the part
after it, so a long recording is never held in memory whole.
"""

from __future__ import annotations

import html
import json
from importlib import resources

PLAYER_VERSION = "3.18.0"


def _asset(name: str) -> str:
    return resources.files("llmsim.player").joinpath("assets", name).read_text("utf-8")


def _script_safe(text: str) -> str:
    # Inside <script>, only "</" can end the element early; "<\/" means the same to JS.
    return text.replace("</", "<\\/")


def _json_in_script(value: object) -> str:
    # JSON for inside <script>: no "<" at all, so neither "</script>" nor "<!--" (which can put
    # an HTML parser into a state where our own </script> no longer ends the element) appears.
    # "\u003c" is the same character to JavaScript; "<" occurs only inside JSON strings.
    return json.dumps(value, ensure_ascii=True, sort_keys=True, allow_nan=False).replace(
        "<", "\\u003c"
    )


def embed(cast_piece: str) -> str:
    """A piece of the cast as it goes inside the page's JSON string. Escaping is per character,
    so the pieces of a cast, each embedded, make the embedded cast."""
    return _json_in_script(cast_piece)[1:-1]


def page_parts(
    *,
    title: str,
    cols: int,
    rows: int,
    idle_time_limit: float | None,
    loop: bool = False,
    theme: str | None = None,
) -> tuple[str, str]:
    """The HTML document before and after the embedded cast (an asciicast v2 or v3 file's
    content, each piece through `embed`).

    `loop`: play again from the start when done (a kiosk); `theme`: one of the player's
    themes (llmsim.player.options.THEMES; None: its default, "asciinema").
    """
    options: dict[str, object] = {
        "cols": cols,
        "rows": rows,
        "autoPlay": True,
        "preload": True,
        "loop": loop,
        "fit": "width",
        "theme": theme or "asciinema",
        "terminalFontSize": "14px",
    }
    if idle_time_limit is not None:
        options["idleTimeLimit"] = idle_time_limit
    head = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="llmsim with asciinema-player {PLAYER_VERSION}">
<title>{html.escape(title)}</title>
<style>
{_asset("asciinema-player.css")}
body {{ margin: 0; padding: 24px; background: #121314; color: #ccc; font-family: sans-serif; }}
main {{ max-width: 1400px; margin: 0 auto; }}
h1 {{ font-size: 16px; font-weight: normal; margin: 0 0 12px 0; }}
</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
<div id="player"></div>
</main>
<script>
{_script_safe(_asset("asciinema-player.min.js"))}
</script>
<script>
(function () {{
  var cast = \""""
    tail = f"""\";
  window.llmsimPlayer = AsciinemaPlayer.create(
    {{ data: cast }},
    document.getElementById("player"),
    {_json_in_script(options)}
  );
}})();
</script>
</body>
</html>
"""
    return head, tail

"""The embeddable HTML form and the default thank-you page: pure functions, everything escaped.

The form works without JavaScript (a plain POST answered with 303 to the thank-you page); a few
lines of script only copy the page URL, its utm_* parameters and the tracking script's visitor id
into hidden fields.
"""

from __future__ import annotations

from html import escape

from ingest.forms.config import FormConfig

# name -> (label, input type, autocomplete token) — WHATWG autofill names, so browsers fill them.
_INPUTS: dict[str, tuple[str, str, str]] = {
    "name": ("Name", "text", "name"),
    "email": ("Work email", "email", "email"),
    "company": ("Company", "text", "organization"),
    "title": ("Job title", "text", "organization-title"),
    "phone": ("Phone", "tel", "tel"),
    "country": ("Country", "text", "country-name"),
    "message": ("How can we help?", "textarea", "off"),
}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

_STYLE = """
.leadbot-form{max-width:32rem;font:16px/1.4 system-ui,sans-serif}
.leadbot-form label{display:block;margin:.75rem 0 .25rem;font-weight:600}
.leadbot-form input,.leadbot-form textarea{width:100%;box-sizing:border-box;padding:.5rem;
border:1px solid #767676;border-radius:4px;font:inherit}
.leadbot-form button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;cursor:pointer}
.leadbot-form .leadbot-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.leadbot-form :focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
"""

_SCRIPT = """
(function(){var f=document.getElementById(%s);if(!f)return;
var p=new URLSearchParams(location.search);f.elements.page_url.value=location.href;
%s.forEach(function(k){if(p.get(k)&&f.elements[k])f.elements[k].value=p.get(k);});
var v=document.cookie.match(/(?:^|;\\s*)_lb_vid=([A-Za-z0-9_-]{8,64})/);if(v)f.elements._lb_vid.value=v[1];})();
"""


def _field(form_id: str, name: str, required: bool) -> str:
    label, kind, autocomplete = _INPUTS[name]
    field_id = f"{form_id}-{name}"
    req = ' required aria-required="true"' if required else ""
    mark = ' <span aria-hidden="true">*</span>' if required else ""
    common = f'id="{field_id}" name="{name}" autocomplete="{autocomplete}"{req}'
    if kind == "textarea":
        control = f'<textarea {common} rows="5" maxlength="5000"></textarea>'
    else:
        limit = 320 if name == "email" else 200
        control = f'<input type="{kind}" {common} maxlength="{limit}">'
    return f'<label for="{field_id}">{escape(label)}{mark}</label>\n{control}'


def render_form(form: FormConfig, *, action: str) -> str:
    """The ready-to-paste `<form>`: labels, required, autocomplete, a honeypot, UTM capture."""
    form_id = f"leadbot-{form.key}"
    names = [n for n in form.fields if n in _INPUTS]
    if "email" not in names:
        names.insert(0, "email")
    required = set(form.required) | {"email"}
    parts = [_field(form_id, n, n in required) for n in names]
    # _lb_vid: the tracking script's visitor id (docs/tracking.md), so earlier visits join the lead.
    hidden = "\n".join(f'<input type="hidden" name="{k}">' for k in ("page_url", *UTM, "_lb_vid"))
    hp = escape(form.honeypot, quote=True)
    honeypot = (
        f'<div class="leadbot-hp" aria-hidden="true"><label for="{form_id}-hp">Leave this empty'
        f'</label><input type="text" id="{form_id}-hp" name="{hp}" tabindex="-1" '
        'autocomplete="off"></div>'
    )
    script = _SCRIPT % (repr(form_id).replace("'", '"'), repr(list(UTM)).replace("'", '"'))
    return (
        f"<style>{_STYLE.strip()}</style>\n"
        f'<form id="{form_id}" class="leadbot-form" method="post" '
        f'action="{escape(action, quote=True)}" accept-charset="utf-8" '
        f'aria-label="{escape(form.title, quote=True)}">\n'
        + "\n".join(parts)
        + f"\n{hidden}\n{honeypot}\n"
        + '<p><small><span aria-hidden="true">*</span> required</small></p>\n'
        + '<button type="submit">Send</button>\n</form>\n'
        + f"<script>{script.strip()}</script>\n"
    )


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def render_embed_page(form: FormConfig, *, action: str) -> str:
    """A whole page showing the form and, below it, the snippet to paste into another site."""
    snippet = render_form(form, action=action)
    return page(
        form.title,
        f"<h1>{escape(form.title)}</h1>\n{snippet}"
        "<h2>Embed this form</h2>\n<p>Paste this HTML into your page:</p>\n"
        f'<textarea readonly rows="12" cols="80" aria-label="Embed code">{escape(snippet)}'
        "</textarea>\n",
    )


def render_thanks(form: FormConfig) -> str:
    return page(
        "Thank you",
        f"<h1>Thank you</h1>\n<p>We received your message ({escape(form.title)}) and will get "
        "back to you soon.</p>\n",
    )

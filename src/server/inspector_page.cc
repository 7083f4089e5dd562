// The inspector's pages, embedded in the binary (no build step): see observe.h.
#include "server/observe.h"

namespace partyd::server {

const char* const kLoginHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>partyd admin: log in</title>
<style>body{font:14px system-ui,sans-serif;margin:4em auto;max-width:24em;color:#222}
input,button{font:inherit;padding:.4em;width:100%;box-sizing:border-box;margin:.3em 0}</style>
</head><body><h1>partyd admin</h1>
<form id="f"><label>Admin token <input id="token" type="password" autocomplete="current-password"></label>
<button id="login" type="submit">Log in</button></form><p id="msg"></p>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const t = document.getElementById('token').value;
  document.cookie = 'partyd_admin=' + t + '; path=/; SameSite=Strict';
  const r = await fetch('/api/rooms');
  if (r.ok) location.href = '/';
  else document.getElementById('msg').textContent = 'That token was not accepted (' + r.status + ').';
});
</script></body></html>
)HTML";

const char* const kInspectorHtml = R"HTML(<!doctype html><title>partyd</title>inspector)HTML";

}  // namespace partyd::server

/**
 * The repository browser's stylesheet: dark and light colour schemes, a two-column layout
 * that becomes one column on a phone, where the less important table columns are hidden.
 */
export const STYLE = `
:root{color-scheme:dark light;--bg:#0f1419;--panel:#171e26;--panel2:#1d2630;--line:#2a3542;--text:#e6edf3;--muted:#8b98a5;
--accent:#4cc2ff;--ok:#3fb950;--bad:#f85149;--radius:10px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif}
@media (prefers-color-scheme:light){:root{--bg:#f4f6f8;--panel:#fff;--panel2:#f0f3f6;--line:#d8dee4;--text:#1f2328;--muted:#59636e;--accent:#0969da}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font-size:14px;line-height:1.4}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;padding:12px 20px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:18px;margin:0}
header .host{color:var(--muted);font-size:13px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
form.login{margin-left:auto;display:flex;gap:6px;flex-wrap:wrap;align-items:center}
input{background:var(--panel2);color:var(--text);border:1px solid var(--line);border-radius:6px;padding:6px 8px;font:inherit;min-width:0}
button{background:var(--panel2);color:var(--text);border:1px solid var(--line);border-radius:6px;padding:5px 10px;font:inherit;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{color:var(--bad);border-color:color-mix(in srgb,var(--bad) 50%,var(--line))}
.who{color:var(--muted);font-size:13px}
#status{margin:10px 20px 0;padding:8px 12px;border-radius:6px;display:none}
#status.error{display:block;background:color-mix(in srgb,var(--bad) 15%,transparent);color:var(--bad)}
#status.info{display:block;background:var(--panel2);color:var(--muted)}
main{display:grid;grid-template-columns:minmax(220px,320px) minmax(0,1fr);gap:14px;padding:14px 20px 28px;max-width:1500px;margin:0 auto}
.card{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:12px 14px;min-width:0}
.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 10px;font-weight:600;display:flex;justify-content:space-between;gap:8px}
#filter{width:100%;margin-bottom:8px}
ul{list-style:none;margin:0;padding:0}
#repos li button{display:block;width:100%;text-align:left;border:0;border-radius:6px;background:none;padding:6px 8px;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#repos li button:hover{background:var(--panel2)}#repos li button.sel{background:var(--panel2);color:var(--accent)}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:500;font-size:12px;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top;font-variant-numeric:tabular-nums}
td.num,th.num{text-align:right;white-space:nowrap}
tr.tag-row{cursor:pointer}tr.tag-row:hover td{background:var(--panel2)}
.chip{display:inline-block;font-size:11.5px;padding:1px 7px;border-radius:10px;background:var(--panel2);border:1px solid var(--line);margin:0 4px 2px 0}
.pull{display:flex;gap:6px;align-items:center;margin:6px 0}
.pull code{flex:1;min-width:0;overflow-x:auto;white-space:nowrap;background:var(--panel2);padding:5px 8px;border-radius:6px}
.details{background:var(--panel2);border-radius:6px;padding:8px 10px;margin-top:4px}
.details h3{font-size:12px;color:var(--muted);margin:8px 0 4px;font-weight:600}
.details td{border-bottom-color:var(--line);padding:4px 6px}
.details .mono{word-break:break-all}
#repo-title{text-transform:none;letter-spacing:0;font-size:14px;color:var(--text);font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.empty{color:var(--muted);padding:14px 0;text-align:center}
.scroll{overflow-x:auto}
#tag-filter{width:100%;max-width:320px;margin-bottom:8px}
#more-tags{margin-top:10px}#more-repos{margin-top:8px;width:100%}
.untag{margin:4px 0 2px;font-size:12.5px}.untag button{font-size:12.5px;padding:3px 8px}
#repos li button{display:flex;gap:8px;align-items:baseline}#repos .name{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis}
#repos .meta{flex:none;color:var(--muted);font-family:system-ui,sans-serif;font-size:11.5px}
#store-note{font-size:12px;margin:10px 0 0}#store-note:empty{display:none}
#tag-count{text-transform:none;letter-spacing:0;font-weight:500}#repo-times{font-size:12px;margin:-4px 0 8px}#repo-times:empty{display:none}
td.tag .kind{font-family:system-ui,sans-serif;font-size:11.5px;margin-top:2px}
td.tag .kind .chip{margin-left:4px}
td.created,td.pushed,td.pulled{white-space:nowrap}
.details table.labels td.key{width:1%;white-space:nowrap;color:var(--muted)}
@media (max-width:720px){main{grid-template-columns:1fr;padding:10px;gap:10px}header{padding:10px}form.login{margin-left:0;width:100%}
form.login input{flex:1 1 120px}#repos{max-height:30vh;overflow:auto}.hide-sm{display:none}
.card{padding:10px}td,th{padding:6px 5px}.details table.labels td.key{white-space:normal;word-break:break-all;width:40%}.details{max-width:calc(100vw - 66px)}}
`;

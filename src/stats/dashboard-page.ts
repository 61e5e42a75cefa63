/**
 * The live dashboard: one self-contained HTML page (inline CSS and JS, no fonts, images or
 * scripts from anywhere else) so it works on an offline registry host and behind any proxy.
 *
 * The page subscribes to `<its own path>/events` (dashboard-events.ts) and redraws from
 * the "init" and "tick" events; charts are inline SVG. Data from the wire (repository
 * names, users, client strings) is only ever set through textContent, never as HTML.
 *
 * The Content-Security-Policy pins the inline script and style by hash: the page can run
 * its own code and nothing injected into it.
 */
import { inlinePageCsp } from '../web/page-csp.js';

const STYLE = `
:root{color-scheme:dark light;--bg:#0f1419;--panel:#171e26;--panel2:#1d2630;--line:#2a3542;--text:#e6edf3;--muted:#8b98a5;
--accent:#4cc2ff;--accent2:#b083f0;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--read:#d29922;--write:#4cc2ff;--wait:#6e7d8c;
--s2:#3fb950;--s3:#4cc2ff;--s4:#d29922;--s5:#f85149;--radius:10px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif}
@media (prefers-color-scheme:light){:root{--bg:#f4f6f8;--panel:#fff;--panel2:#f0f3f6;--line:#d8dee4;--text:#1f2328;--muted:#59636e;
--accent:#0969da;--accent2:#8250df;--wait:#8c959f;--write:#0969da;--s3:#0969da}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font-size:14px;line-height:1.4}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;padding:14px 20px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:18px;margin:0;letter-spacing:.2px;display:flex;align-items:center;gap:8px}
header h1 svg{width:22px;height:22px}
.meta{color:var(--muted);font-size:13px;display:flex;gap:14px;flex-wrap:wrap}
.meta b{color:var(--text);font-weight:600}
.live{margin-left:auto;display:flex;align-items:center;gap:6px;font-size:13px;color:var(--muted)}
.dot{width:9px;height:9px;border-radius:50%;background:var(--bad)}
.live.on .dot{background:var(--ok);box-shadow:0 0 0 3px color-mix(in srgb,var(--ok) 25%,transparent)}
main{padding:16px 20px 28px;display:grid;gap:14px;grid-template-columns:repeat(12,1fr);max-width:1500px;margin:0 auto}
[hidden]{display:none!important}
tr.self td{font-weight:600}
.card{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:14px 16px;min-width:0}
.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 10px;font-weight:600;display:flex;justify-content:space-between;align-items:center;gap:8px}
.col{display:flex;flex-direction:column;gap:14px;min-width:0}.col>.card{flex:none}
.kpi{grid-column:span 3}.half{grid-column:span 6}.wide{grid-column:span 12}.third{grid-column:span 4}.twothird{grid-column:span 8}
.big{font-size:30px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.1}
.sub{color:var(--muted);font-size:12.5px;margin-top:4px;font-variant-numeric:tabular-nums}
.stack{display:flex;height:8px;border-radius:4px;overflow:hidden;background:var(--panel2);margin:10px 0 8px}
.stack span{display:block;height:100%;transition:width .4s}
.legend{display:flex;gap:12px;flex-wrap:wrap;font-size:12.5px;color:var(--muted)}
.legend i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.legend b{color:var(--text);font-variant-numeric:tabular-nums}
.chart{width:100%;height:150px;display:block}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .ln{fill:none;stroke-width:2;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:11.5px;margin-top:4px}
.seg{display:inline-flex;border:1px solid var(--line);border-radius:6px;overflow:hidden;text-transform:none;letter-spacing:0}
.seg button{background:none;border:0;color:var(--muted);padding:2px 8px;font:inherit;font-size:12px;cursor:pointer}
.seg button.sel{background:var(--panel2);color:var(--text)}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:500;font-size:12px;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:7px 8px;border-bottom:1px solid var(--line);white-space:nowrap;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
td.repo{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;max-width:320px;overflow:hidden;text-overflow:ellipsis}
td.num,th.num{text-align:right}
.tag{color:var(--accent)}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;border-radius:10px;text-transform:uppercase;letter-spacing:.04em}
.badge.push{background:color-mix(in srgb,var(--accent2) 20%,transparent);color:var(--accent2)}
.badge.pull{background:color-mix(in srgb,var(--accent) 18%,transparent);color:var(--accent)}
.fresh td{animation:flash 2.5s ease-out}
@keyframes flash{from{background:color-mix(in srgb,var(--accent) 22%,transparent)}to{background:transparent}}
.scroll{overflow-x:auto}
.empty{color:var(--muted);padding:14px 0;text-align:center}
.bars{display:flex;flex-direction:column;gap:8px}
.bar{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:2px 10px;font-size:13px}
.bar .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.bar .val{color:var(--muted);font-variant-numeric:tabular-nums;font-size:12.5px}
.bar .track{grid-column:1/3;height:5px;background:var(--panel2);border-radius:3px;overflow:hidden}
.bar .fill{height:100%;background:var(--accent);border-radius:3px;transition:width .4s}
.codes{display:grid;grid-template-columns:repeat(auto-fill,minmax(76px,1fr));gap:6px;margin-top:10px}
.code{background:var(--panel2);border-radius:6px;padding:5px 8px;font-variant-numeric:tabular-nums;font-size:12.5px;display:flex;justify-content:space-between;gap:6px}
.code b{font-weight:600}
.svc{display:flex;align-items:center;gap:10px;padding:7px 0;border-bottom:1px solid var(--line)}
.svc:last-child{border-bottom:0}
.svc .dot{flex:none}.svc.ok .dot{background:var(--ok)}
.svc .nm{font-weight:600}.svc .kd{color:var(--muted);font-size:12px}
.svc .dt{margin-left:auto;color:var(--muted);font-size:12px;text-align:right;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:55%}
@media (max-width:1100px){.kpi{grid-column:span 6}.twothird,.third{grid-column:span 12}}
@media (max-width:720px){main{padding:10px;gap:10px}.kpi{grid-column:span 6}.half,.third,.twothird{grid-column:span 12}
.big{font-size:24px}header{padding:12px}.hide-sm{display:none}td.repo{max-width:170px}}
`;

const SCRIPT = `
(function(){
"use strict";
var $=function(id){return document.getElementById(id)};
var history={requests:[],bytesIn:[],bytesOut:[],errors:[]};
var SHOWN=12,windowSec=60,last=null,seen=new Set(),firstRender=true;
var base=location.pathname.replace(/\\/+$/,'');

function fmtNum(n){if(n>=1e9)return (n/1e9).toFixed(1)+'G';if(n>=1e6)return (n/1e6).toFixed(1)+'M';if(n>=1e4)return (n/1e3).toFixed(1)+'k';return String(Math.round(n))}
function fmtRate(n){return n<10&&n>0?n.toFixed(1):fmtNum(n)}
function fmtBytes(b){if(!b)return '0 B';var u=['B','kB','MB','GB','TB'],i=0;while(b>=1000&&i<u.length-1){b/=1000;i++}return (i?b.toFixed(b<10?2:1):b)+' '+u[i]}
function fmtDur(ms){if(ms<1000)return Math.round(ms)+' ms';var s=ms/1000;if(s<60)return s.toFixed(s<10?2:1)+' s';var m=Math.floor(s/60);return m+'m '+Math.round(s%60)+'s'}
function fmtAgo(t){var s=Math.max(0,Math.round((Date.now()-t)/1000));if(s<60)return s+'s ago';if(s<3600)return Math.floor(s/60)+'m ago';if(s<86400)return Math.floor(s/3600)+'h ago';return Math.floor(s/86400)+'d ago'}
function fmtUptime(s){var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60);return (d?d+'d ':'')+(d||h?h+'h ':'')+m+'m'}
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e}
function set(id,v){var e=$(id);if(e&&e.textContent!==v)e.textContent=v}

var NS='http://www.w3.org/2000/svg';
function chart(svgId,series,colors){
  var svg=$(svgId),W=600,H=150,pad=6;
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  var n=windowSec,max=1;
  series.forEach(function(s){for(var i=Math.max(0,s.length-n);i<s.length;i++)if(s[i]>max)max=s[i]});
  max=niceMax(max);
  for(var g=1;g<4;g++){var y=pad+(H-2*pad)*g/4,l=document.createElementNS(NS,'line');l.setAttribute('x1',0);l.setAttribute('x2',W);l.setAttribute('y1',y);l.setAttribute('y2',y);l.setAttribute('class','grid');svg.appendChild(l)}
  series.forEach(function(s,k){
    var pts=s.slice(-n),off=n-pts.length,d='',area='';
    for(var i=0;i<pts.length;i++){var x=(off+i)/(n-1)*W,y=H-pad-(H-2*pad)*pts[i]/max;d+=(i?'L':'M')+x.toFixed(1)+' '+y.toFixed(1)}
    if(!pts.length)return;
    var x0=(off/(n-1)*W).toFixed(1);
    var a=document.createElementNS(NS,'path');a.setAttribute('d',d+'L'+W+' '+H+'L'+x0+' '+H+'Z');a.setAttribute('fill',colors[k]);a.setAttribute('fill-opacity','0.12');svg.appendChild(a);
    var p=document.createElementNS(NS,'path');p.setAttribute('d',d);p.setAttribute('class','ln');p.setAttribute('stroke',colors[k]);svg.appendChild(p);
  });
  return max;
}
function niceMax(v){var p=Math.pow(10,Math.floor(Math.log10(v))),m=v/p;return (m<=1?1:m<=2?2:m<=5?5:10)*p}

function renderCharts(){
  var css=getComputedStyle(document.documentElement);
  var c1=css.getPropertyValue('--accent').trim(),c2=css.getPropertyValue('--accent2').trim(),c5=css.getPropertyValue('--bad').trim();
  var m1=chart('chart-req',[history.requests,history.errors],[c1,c5]);
  var m2=chart('chart-bytes',[history.bytesIn,history.bytesOut],[c2,c1]);
  set('req-max','max '+fmtRate(m1)+'/s');set('bytes-max','max '+fmtBytes(m2)+'/s');
  var lbl=(windowSec/60)+' min ago';set('req-from',lbl);set('bytes-from',lbl);
}

function renderConn(c){
  set('conn-active',fmtNum(c.active));set('conn-reading',String(c.reading));set('conn-writing',String(c.writing));set('conn-waiting',String(c.waiting));
  var t=Math.max(1,c.reading+c.writing+c.waiting);
  $('bar-reading').style.width=(100*c.reading/t)+'%';$('bar-writing').style.width=(100*c.writing/t)+'%';$('bar-waiting').style.width=(100*c.waiting/t)+'%';
  set('conn-totals',fmtNum(c.accepted)+' accepted · '+fmtNum(c.requests)+' requests');
}

function avg(a,n){var s=0,k=0;for(var i=Math.max(0,a.length-n);i<a.length;i++){s+=a[i];k++}return k?s/k:0}

function renderRates(s){
  var r=avg(history.requests,5),bi=avg(history.bytesIn,5),bo=avg(history.bytesOut,5),er=avg(history.errors,60);
  set('req-rate',fmtRate(r));set('bytes-in-rate',fmtBytes(bi)+'/s');set('bytes-out-rate',fmtBytes(bo)+'/s');
  set('total-requests',fmtNum(s.activity.totals.requests));
  set('total-bytes',fmtBytes(s.activity.totals.bytesIn)+' in · '+fmtBytes(s.activity.totals.bytesOut)+' out');
  set('total-pushes',fmtNum(s.activity.totals.pushes));set('total-pulls',fmtNum(s.activity.totals.pulls));
  set('error-rate',fmtRate(er*60)+'/min');
}

function renderStatus(codes){
  var cls={2:0,3:0,4:0,5:0,1:0},total=0,keys=Object.keys(codes).sort();
  keys.forEach(function(k){cls[k[0]]=(cls[k[0]]||0)+codes[k];total+=codes[k]});
  ['2','3','4','5'].forEach(function(k){$('st-'+k).style.width=(total?100*cls[k]/total:0)+'%';set('stn-'+k,fmtNum(cls[k]))});
  var box=$('codes');box.replaceChildren();
  if(!keys.length){box.appendChild(el('div','empty','no requests yet'));return}
  keys.forEach(function(k){var d=el('div','code');var b=el('b',null,k);b.style.color='var(--s'+k[0]+')';d.appendChild(b);d.appendChild(el('span',null,fmtNum(codes[k])));d.dataset.code=k;box.appendChild(d)});
}

function renderRecent(list){
  var tb=$('recent');tb.replaceChildren();
  if(!list.length){var tr=el('tr');var td=el('td','empty','no pushes or pulls yet');td.colSpan=8;tr.appendChild(td);tb.appendChild(tr);return}
  set('recent-count',list.length>SHOWN?'latest '+SHOWN+' of '+list.length:'');
  list.slice(-SHOWN).reverse().forEach(function(e){
    var id=e.kind+e.at+e.repository+e.reference;
    var tr=el('tr');tr.dataset.kind=e.kind;tr.dataset.repository=e.repository;tr.dataset.reference=e.reference;
    if(!seen.has(id)){if(!firstRender)tr.className='fresh';seen.add(id)}
    var k=el('td');k.appendChild(el('span','badge '+e.kind,e.kind));tr.appendChild(k);
    var r=el('td','repo');r.appendChild(document.createTextNode(e.repository));
    if(e.reference){var isDigest=e.reference.indexOf(':')>0;r.appendChild(el('span','tag',(isDigest?'@':':')+(isDigest?e.reference.slice(0,19)+'…':e.reference)))}
    r.title=e.repository+(e.reference?' '+e.reference:'');tr.appendChild(r);
    tr.appendChild(el('td','hide-sm',e.user||'—'));
    tr.appendChild(el('td','hide-sm',e.client+(e.clientVersion?' '+e.clientVersion:'')));
    tr.appendChild(el('td','num size',fmtBytes(e.bytes)));
    tr.appendChild(el('td','num hide-sm',fmtDur(e.durationMs)));
    tr.appendChild(el('td','num',fmtAgo(e.at)));
    tb.appendChild(tr);
  });
  firstRender=false;
}

function renderBars(id,items,empty){
  var box=$(id);box.replaceChildren();
  if(!items.length){box.appendChild(el('div','empty',empty));return}
  var max=items[0].requests||1;
  items.slice(0,8).forEach(function(t){
    var b=el('div','bar');b.dataset.name=t.name;b.appendChild(el('span','name',t.name));
    var extra=(t.pushes?' · '+t.pushes+' push'+(t.pushes>1?'es':''):'')+(t.pulls?' · '+t.pulls+' pull'+(t.pulls>1?'s':''):'');
    b.appendChild(el('span','val',fmtNum(t.requests)+' req'+extra));
    var tr=el('div','track'),f=el('div','fill');f.style.width=(100*t.requests/max)+'%';tr.appendChild(f);b.appendChild(tr);box.appendChild(b);
  });
}

function renderHealth(list){
  var box=$('health');box.replaceChildren();
  if(!list){box.appendChild(el('div','empty','checking…'));return}
  if(!list.length){box.appendChild(el('div','empty','no services reported'));return}
  list.forEach(function(s){
    var d=el('div','svc'+(s.healthy?' ok':''));d.dataset.healthy=String(s.healthy);d.appendChild(el('span','dot'));
    var t=el('div');t.appendChild(el('div','nm',s.name));t.appendChild(el('div','kd',s.kind+(s.failures?' · '+s.failures+' failed checks':'')));d.appendChild(t);
    d.appendChild(el('div','dt',s.healthy?'healthy':(s.detail||'down')));box.appendChild(d);
  });
}

function renderMirrors(list){
  var box=$('health');
  (list||[]).forEach(function(m){
    var d=el('div','svc ok mirror');d.appendChild(el('span','dot'));
    var t=el('div');t.appendChild(el('div','nm','mirror '+m.prefix+'/'));t.appendChild(el('div','kd',m.remote));d.appendChild(t);
    d.appendChild(el('div','dt',m.hits+' hits · '+m.misses+' misses · '+fmtBytes(m.bytesFromRemote)+' from remote · '+m.staleServes+' stale · cache '+fmtBytes(m.cacheBytes)));
    box.appendChild(d);
  });
}

function renderStorage(s){
  var card=$('storage-card');card.hidden=!s;if(!s)return;
  set('store-total',s.store?fmtBytes(s.store.bytes)+' in '+fmtNum(s.store.blobs)+' blobs, each counted once':'counting…');
  var box=$('storage');box.replaceChildren();
  var rows=s.repositories.slice(0,8);
  if(!rows.length){box.appendChild(el('div','empty',s.complete?'nothing stored yet':'reading repository sizes…'));return}
  var max=rows[0].bytes||1;
  rows.forEach(function(r){
    var b=el('div','bar');b.dataset.name=r.name;b.appendChild(el('span','name',r.name));
    b.appendChild(el('span','val',fmtBytes(r.bytes)+' · '+fmtNum(r.tags)+' tag'+(r.tags===1?'':'s')));
    var tr=el('div','track'),f=el('div','fill');f.style.width=(100*r.bytes/max)+'%';tr.appendChild(f);b.appendChild(tr);box.appendChild(b);
  });
  var rest=s.repositories.length-rows.length+s.other.repositories;
  if(rest>0)box.appendChild(el('div','empty',fmtNum(rest)+' more repositories'));
}

function renderWorkers(g,pid){
  var card=$('workers-card');card.hidden=!g;if(!g)return;
  set('workers-count',g.workers.length+' worker'+(g.workers.length===1?'':'s'));
  var body=$('workers');body.replaceChildren();
  g.workers.forEach(function(w){
    var tr=document.createElement('tr');tr.dataset.pid=String(w.pid);if(w.pid===pid)tr.className='self';
    [String(w.id)+(w.pid===pid?' (serving this page)':''),String(w.pid),fmtUptime(w.uptime),fmtNum(w.connections.active),fmtNum(w.connections.accepted),fmtNum(w.connections.requests)].forEach(function(v,i){tr.appendChild(el('td',i?'num':'',v))});
    body.appendChild(tr);
  });
  var r=g.retired;
  set('workers-retired',r.workers?r.workers+' worker'+(r.workers===1?'':'s')+' replaced so far; their '+fmtNum(r.accepted)+' accepted connections and '+fmtNum(r.requests)+' requests stay in the totals':'no worker has been replaced');
}

function render(s){
  last=s;
  set('host',s.host);set('version',s.version);set('uptime',fmtUptime(s.uptime));
  renderConn(s.group?s.group.connections:s.conn);renderWorkers(s.group,s.pid);renderRates(s);renderCharts();renderStatus(s.activity.statusCodes);
  renderRecent(s.activity.recent);renderBars('top-repos',s.activity.topRepositories,'no repository traffic yet');
  renderBars('top-clients',s.activity.topClients,'no clients yet');renderHealth(s.health);renderMirrors(s.mirrors);renderStorage(s.storage);
  set('updated',new Date(s.t).toLocaleTimeString());
}

function push(p){['requests','bytesIn','bytesOut','errors'].forEach(function(k){history[k].push(p[k]);if(history[k].length>600)history[k].shift()})}

document.querySelectorAll('.seg button').forEach(function(b){b.addEventListener('click',function(){
  windowSec=Number(b.dataset.sec);document.querySelectorAll('.seg button').forEach(function(x){x.classList.toggle('sel',x.dataset.sec===b.dataset.sec)});if(last)renderCharts()})});

function connect(){
  var es=new EventSource(base+'/events');
  es.addEventListener('open',function(){$('live').classList.add('on');set('live-text','live')});
  es.addEventListener('error',function(){$('live').classList.remove('on');set('live-text','reconnecting…')});
  es.addEventListener('init',function(ev){var d=JSON.parse(ev.data);history=d.series;render(d.state)});
  es.addEventListener('tick',function(ev){var d=JSON.parse(ev.data);push(d.point);render(d.state)});
}
connect();
})();
`;

const LOGO =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" aria-hidden="true"><path d="M4 21V8l8-5 8 5v13"/><path d="M8 21v-9M12 21v-9M16 21v-9M4 12h16M4 16h16"/></svg>';

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>portcullis · live stats</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>${LOGO}portcullis</h1>
  <div class="meta"><span>host <b id="host">—</b></span><span>version <b id="version">—</b></span><span>up <b id="uptime">—</b></span><span class="hide-sm">updated <b id="updated">—</b></span></div>
  <div class="live" id="live"><span class="dot"></span><span id="live-text">connecting…</span></div>
</header>
<main>
  <section class="card kpi">
    <h2>Connections</h2>
    <div class="big" id="conn-active" data-testid="conn-active">0</div>
    <div class="stack"><span id="bar-reading" style="background:var(--read)"></span><span id="bar-writing" style="background:var(--write)"></span><span id="bar-waiting" style="background:var(--wait)"></span></div>
    <div class="legend"><span><i style="background:var(--read)"></i>reading <b id="conn-reading">0</b></span><span><i style="background:var(--write)"></i>writing <b id="conn-writing">0</b></span><span><i style="background:var(--wait)"></i>waiting <b id="conn-waiting">0</b></span></div>
    <div class="sub" id="conn-totals">—</div>
  </section>
  <section class="card kpi">
    <h2>Requests / s</h2>
    <div class="big" id="req-rate">0</div>
    <div class="sub"><span id="total-requests">0</span> registry requests · <span id="error-rate">0/min</span> 5xx</div>
  </section>
  <section class="card kpi">
    <h2>Throughput</h2>
    <div class="big" style="font-size:22px"><span style="color:var(--accent2)">↑</span> <span id="bytes-in-rate">0 B/s</span></div>
    <div class="big" style="font-size:22px"><span style="color:var(--accent)">↓</span> <span id="bytes-out-rate">0 B/s</span></div>
    <div class="sub" id="total-bytes">—</div>
  </section>
  <section class="card kpi">
    <h2>Images</h2>
    <div class="big"><span id="total-pushes">0</span> <span class="sub" style="font-size:14px">pushes</span></div>
    <div class="big"><span id="total-pulls">0</span> <span class="sub" style="font-size:14px">pulls</span></div>
  </section>
  <section class="card wide" id="workers-card" hidden>
    <h2><span>Workers</span><span class="sub" id="workers-count"></span></h2>
    <div class="scroll"><table>
      <thead><tr><th>worker</th><th class="num">pid</th><th class="num">up</th><th class="num">active</th><th class="num">accepted</th><th class="num">requests</th></tr></thead>
      <tbody id="workers"></tbody>
    </table></div>
    <div class="sub" id="workers-retired"></div>
  </section>
  <section class="card half">
    <h2><span>Requests per second</span><span class="seg"><button data-sec="60" class="sel">1m</button><button data-sec="300">5m</button><button data-sec="600">10m</button></span></h2>
    <svg class="chart" id="chart-req" viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="requests per second"></svg>
    <div class="axis"><span id="req-from">1 min ago</span><span class="legend"><span><i style="background:var(--accent)"></i>all</span><span><i style="background:var(--bad)"></i>5xx</span></span><span id="req-max">—</span></div>
  </section>
  <section class="card half">
    <h2><span>Bytes per second</span></h2>
    <svg class="chart" id="chart-bytes" viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="bytes per second"></svg>
    <div class="axis"><span id="bytes-from">1 min ago</span><span class="legend"><span><i style="background:var(--accent2)"></i>received</span><span><i style="background:var(--accent)"></i>sent</span></span><span id="bytes-max">—</span></div>
  </section>
  <section class="card twothird">
    <h2><span>Recent pushes and pulls</span><span class="sub" id="recent-count"></span></h2>
    <div class="scroll"><table>
      <thead><tr><th></th><th>repository</th><th class="hide-sm">user</th><th class="hide-sm">client</th><th class="num">size</th><th class="num hide-sm">duration</th><th class="num">when</th></tr></thead>
      <tbody id="recent"></tbody>
    </table></div>
  </section>
  <div class="col third">
    <section class="card">
      <h2>Status codes</h2>
      <div class="stack" style="height:10px"><span id="st-2" style="background:var(--s2)"></span><span id="st-3" style="background:var(--s3)"></span><span id="st-4" style="background:var(--s4)"></span><span id="st-5" style="background:var(--s5)"></span></div>
      <div class="legend"><span><i style="background:var(--s2)"></i>2xx <b id="stn-2">0</b></span><span><i style="background:var(--s3)"></i>3xx <b id="stn-3">0</b></span><span><i style="background:var(--s4)"></i>4xx <b id="stn-4">0</b></span><span><i style="background:var(--s5)"></i>5xx <b id="stn-5">0</b></span></div>
      <div class="codes" id="codes"></div>
    </section>
    <section class="card">
      <h2>Registry backend</h2>
      <div id="health"></div>
    </section>
  </div>
  <section class="card half">
    <h2>Top repositories</h2>
    <div class="bars" id="top-repos"></div>
  </section>
  <section class="card half">
    <h2>Top clients</h2>
    <div class="bars" id="top-clients"></div>
  </section>
  <section class="card half" id="storage-card" hidden>
    <h2><span>Storage</span><span class="sub" id="store-total"></span></h2>
    <div class="sub" style="margin:0 0 8px">Largest repositories by bytes stored; a layer shared by several images of a repository counts once in it, and once in the store total however many repositories share it.</div>
    <div class="bars" id="storage"></div>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const DASHBOARD_HTML = HTML;
export const DASHBOARD_CSP = inlinePageCsp(SCRIPT);

// node_server.js - the Node.js peer of bench/arch_bench.py: one process, the `http` module (the
// reactor of libuv), the same answers as the baselines: GET / -> "Hello, World!", /echo -> the
// request body, anything else -> 404. Keep-alive as Node does it (HTTP/1.1 default).
// Prints "listening on 127.0.0.1:PORT"; SIGTERM stops it (exit 0).
// usage: node node_server.js [--port N] [--help]   (port 0, the default, lets the kernel choose)
'use strict';
const http = require('http');

const usage = 'usage: node node_server.js [--port N] [--help]\n' +
  '  --port N   port on 127.0.0.1 (default 0: the kernel picks one)\n' +
  'Prints "listening on 127.0.0.1:PORT"; SIGTERM stops it (exit 0).\n';
const args = process.argv.slice(2);
let port = 0;
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--help' || args[i] === '-h') {
    process.stdout.write(usage);
    process.exit(0);
  } else if (args[i] === '--port' && i + 1 < args.length && /^[0-9]+$/.test(args[i + 1]) &&
             Number(args[i + 1]) <= 65535) {
    port = Number(args[++i]);
  } else {
    const what = args[i] === '--port' ? `--port needs 0..65535, not '${args[i + 1] ?? ''}'`
                                      : `unknown argument '${args[i]}'`;
    process.stderr.write(`node_server.js: ${what}\n` + usage);
    process.exit(2);
  }
}
const hello = Buffer.from('Hello, World!');

const server = http.createServer((req, res) => {
  if (req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': body.length});
      res.end(body);
    });
  } else if (req.url === '/') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': hello.length});
    res.end(hello);
  } else {
    res.writeHead(404, {'Content-Length': 0});
    res.end();
  }
});
// Node's defaults would cut idle keep-alive connections after 5 s and headers after 60 s; the
// bench keeps a connection busy, so only the idle limit matters, raised to the baselines' habit.
server.keepAliveTimeout = 75000;
server.maxRequestsPerSocket = 0;
server.listen(port, '127.0.0.1', 4096, () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});

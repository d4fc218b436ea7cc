// node_server.js - the Node.js peer of bench/arch_bench.py: one process, the `http` module (the
// reactor of libuv), the same answers as the baselines: GET / -> "Hello, World!", /echo -> the
// request body, anything else -> 404. Keep-alive as Node does it (HTTP/1.1 default).
// Prints "listening on 127.0.0.1:PORT"; SIGTERM stops it (exit 0).
// usage: node node_server.js [--port N]   (0, the default, lets the kernel choose)
'use strict';
const http = require('http');

const args = process.argv.slice(2);
const at = args.indexOf('--port');
const port = at >= 0 ? Number(args[at + 1]) : 0;
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

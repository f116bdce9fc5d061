// A plain `ws` echo server: every text frame goes straight back to its sender.
// Usage: node server.mjs [port]   (prints "listening on 127.0.0.1:<port>")
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening on 127.0.0.1:${wss.address().port}`));

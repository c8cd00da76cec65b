// node-soap (the `soap` npm package) as a client of the running service, for
// tests/e2e/test_node_soap.py. Reads a JSON plan on stdin:
//   {"baseUrl": "http://127.0.0.1:PORT", "party": "...", "password": "...",
//    "endpoints": ["EiTender", ...],                       every WSDL to load
//    "calls": [{"endpoint": "EiTender", "operation": "EiRequestTender", "args": {...}}]}
// and writes one JSON line per endpoint loaded and per call made, with the request node-soap sent.
'use strict';

const soap = require('soap');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const plan = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const clients = {};
  for (const endpoint of plan.endpoints) {
    const client = await soap.createClientAsync(`${plan.baseUrl}/${endpoint}?wsdl`);
    client.setSecurity(new soap.WSSecurity(plan.party, plan.password, { passwordType: 'PasswordText', hasTimeStamp: false }));
    clients[endpoint] = client;
    const description = client.describe();
    const operations = Object.values(description).flatMap((service) =>
      Object.values(service).flatMap((port) => Object.keys(port)));
    console.log(JSON.stringify({ loaded: endpoint, operations }));
  }
  for (const call of plan.calls) {
    const client = clients[call.endpoint];
    let reply;
    try {
      [reply] = await client[`${call.operation}Async`](call.args);
    } catch (error) {
      console.log(JSON.stringify({ operation: call.operation, error: String(error.message || error),
        body: error.body || null, request: client.lastRequest || null }));
      continue;
    }
    console.log(JSON.stringify({ operation: call.operation, reply, request: client.lastRequest }));
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});

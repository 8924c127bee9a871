// benchmarks/e2e_nodemailer.js — Nodemailer on e2e_bench's `lib` workload
// (benchmarks/run_e2e.py, benchmarks/e2e_cpu.py).
//
//   node e2e_nodemailer.js --modules DIR --port P --rcpt R --count N --message FILE
//
// Nodemailer from DIR/node_modules (./run bench e2e installs it with npm into
// build/e2e/node, never at test time); a pooled transport (pool: true) with one
// connection, EHLO, one untimed warm-up message, then N messages, one
// sendMail() after another, each the file's bytes as they are (`raw`) with an
// explicit envelope. With PIPELINING offered Nodemailer sends MAIL, the RCPTs
// and DATA in one write, and the data after the 354. Prints one JSON line with
// the process's CPU time (process.cpuUsage, user + system) over the N messages.
'use strict';

const fs = require('fs');
const path = require('path');

function args() {
    const a = {};
    const v = process.argv.slice(2);
    for (let i = 0; i + 1 < v.length; i += 2)
        a[v[i].replace(/^--/, '')] = v[i + 1];
    for (const k of ['modules', 'port', 'rcpt', 'count', 'message'])
        if (a[k] === undefined)
            throw new Error('e2e_nodemailer: --' + k + ' is required');
    return a;
}

async function main() {
    const a = args();
    const nodemailer = require(require.resolve('nodemailer', { paths: [path.resolve(a.modules)] }));
    const version = require(path.join(path.dirname(require.resolve('nodemailer/package.json',
        { paths: [path.resolve(a.modules)] })), 'package.json')).version;
    const raw = fs.readFileSync(a.message);
    const count = Number(a.count);
    const to = [];
    for (let i = 0; i < Number(a.rcpt); ++i)
        to.push('rcpt' + i + '@example.com');
    const t = nodemailer.createTransport({
        host: '127.0.0.1', port: Number(a.port), secure: false, ignoreTLS: true, name: 'client.example',
        pool: true, maxConnections: 1, maxMessages: Infinity,
    });
    const envelope = { from: 'author@example.com', to };
    const one = async () => {
        const info = await t.sendMail({ envelope, raw });
        if (info.accepted.length !== to.length)
            throw new Error('e2e_nodemailer: refused: ' + JSON.stringify(info.rejected));
    };
    await one(); // warm-up (and the connection, kept by the pool)
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; ++i)
        await one();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    t.close();
    const secs = Number(t1 - t0) * 1e-9;
    console.log(JSON.stringify({
        client: 'nodemailer', version, node: process.version, messages: count, recipients: Number(a.rcpt),
        seconds: secs, messages_per_second: count / secs, cpu_seconds: (c.user + c.system) * 1e-6,
        maxrss_kib: process.resourceUsage().maxRSS,
    }));
}

main().catch((e) => {
    console.error(String(e && e.stack || e));
    process.exit(1);
});

/**
 * The wire names of Services, chosen labels and ignored records, and their
 * way back: OTLP attributes (a gateway reading an agent) and flow log lines
 * (replay) give the record they were made from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFlowLogLine } from '../exporters/flowlog/format.ts';
import { parseFlowLog } from '../receivers/replay/index.ts';
import { attributesToRecord, labelName, recordAttributes } from './attributes.ts';
import type { FlowRecord } from './flow.ts';

const record: FlowRecord = {
  src: { address: '', port: 0, namespace: 'audit', zone: 'zone-a', namespaceLabels: { team: 'security' } },
  dst: {
    address: '10.1.0.5', port: 8080, namespace: 'shop', pod: 'cart-0', workloadKind: 'Deployment', workloadName: 'cart', zone: 'zone-b',
    service: 'cart', serviceNamespace: 'shop', podLabels: { team: 'checkout', 'app.kubernetes.io/name': 'cart' }, namespaceLabels: { team: 'commerce' },
  },
  transport: 'tcp', ipFamily: 'ipv4', bytes: 1200, packets: 3, trafficClass: 'cross_zone', ignored: true,
};

test('attribute names: k8s.dst.service.name/namespace, k8s.<side>.pod.label.<key>, k8s.<side>.namespace.label.<key>, zonetap.ignored', () => {
  assert.deepEqual(recordAttributes(record), {
    'k8s.src.namespace': 'audit', 'src.zone': 'zone-a', 'k8s.src.namespace.label.team': 'security',
    'dst.address': '10.1.0.5', 'dst.port': 8080, 'k8s.dst.namespace': 'shop', 'k8s.dst.name': 'cart-0', 'k8s.dst.owner.name': 'cart', 'k8s.dst.owner.type': 'Deployment', 'dst.zone': 'zone-b',
    'k8s.dst.service.name': 'cart', 'k8s.dst.service.namespace': 'shop',
    'k8s.dst.pod.label.team': 'checkout', 'k8s.dst.pod.label.app.kubernetes.io/name': 'cart', 'k8s.dst.namespace.label.team': 'commerce',
    transport: 'tcp', 'network.type': 'ipv4', 'zonetap.traffic.class': 'cross_zone', 'zonetap.ignored': true,
  });
  assert.equal(labelName('k8s.dst.pod.label.app.kubernetes.io/name'), 'k8s_dst_pod_label_app_kubernetes_io_name');
});

test('OTLP attributes and a flow log line read back into the same record', () => {
  const back = attributesToRecord(recordAttributes(record), record.bytes, record.packets);
  assert.deepEqual(back, record);
  const log = parseFlowLog(formatFlowLogLine('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:10.000Z', record) + '\n');
  assert.deepEqual(log.damaged, []);
  assert.deepEqual(log.batches[0]!.records, [record]);
});

test('a flow log line without an address is read only when the record is ignored', () => {
  const line = JSON.parse(formatFlowLogLine('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:10.000Z', record));
  delete line['zonetap.ignored'];
  assert.deepEqual(parseFlowLog(JSON.stringify(line)).damaged, [{ line: 1, problem: 'missing "src.address"' }]);
  assert.deepEqual(parseFlowLog(JSON.stringify({ ...line, 'zonetap.ignored': false })).damaged, [{ line: 1, problem: 'missing "src.address"' }]);
  assert.deepEqual(parseFlowLog(JSON.stringify({ ...line, 'src.address': '10.9.9.9', 'zonetap.ignored': 'yes' })).damaged, [{ line: 1, problem: '"zonetap.ignored" must be true (absent when not ignored), got "yes"' }]);
});

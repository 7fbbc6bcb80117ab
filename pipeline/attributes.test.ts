/**
 * The wire names of Services, chosen labels and ignored records, and their
 * way back: OTLP attributes (a gateway reading an agent) and flow log lines
 * (replay) give the record they were made from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFlowLogLine } from '../exporters/flowlog/format.ts';
import { parseFlowLog } from '../exporters/flowlog/index.ts';
import { seriesKey } from '../exporters/series/index.ts';
import { attributesToRecord, labelName, recordAttributes, recordKey } from './attributes.ts';
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

test('recordKey: two records share a key exactly when their attribute sets are equal', () => {
  // Each variant changes one thing, or something that writes no attribute (empty, false, port 0), or
  // writes the chosen labels in another order.
  const variants: FlowRecord[] = [
    record,
    { ...record, src: { ...record.src, address: '10.0.0.1' } },
    { ...record, src: { ...record.src, address: '' } },
    { ...record, src: { ...record.src, port: 0 } },
    { ...record, dst: { ...record.dst, port: 0 } },
    { ...record, dst: { ...record.dst, port: 8081 } },
    { ...record, dst: { ...record.dst, hostNetwork: false } },
    { ...record, dst: { ...record.dst, hostNetwork: true } },
    { ...record, dst: { ...record.dst, pod: '' } },
    { ...record, dst: { ...record.dst, pod: undefined } },
    { ...record, dst: { ...record.dst, pod: 'cart-1' } },
    { ...record, dst: { ...record.dst, zone: undefined } },
    { ...record, dst: { ...record.dst, podLabels: { 'app.kubernetes.io/name': 'cart', team: 'checkout' } } },
    { ...record, dst: { ...record.dst, podLabels: { team: 'checkout' } } },
    { ...record, dst: { ...record.dst, podLabels: { team: 'checkout', 'app.kubernetes.io/name': '' } } },
    // The same label on the other kind (pod / namespace) or the other end is another attribute.
    { ...record, dst: { ...record.dst, podLabels: { team: 'commerce', 'app.kubernetes.io/name': 'cart' }, namespaceLabels: { team: 'checkout' } } },
    { ...record, src: { ...record.src, namespaceLabels: undefined, podLabels: { team: 'security' } } },
    { ...record, src: record.dst, dst: record.src },
    { ...record, transport: 'udp' },
    { ...record, ipFamily: 'ipv6' },
    { ...record, trafficClass: undefined },
    { ...record, trafficClass: 'same_zone' },
    { ...record, ignored: false },
    { ...record, ignored: undefined },
    { ...record, bytes: 1, packets: 1, costUsd: 0.5 },
  ];
  for (const a of variants) {
    for (const b of variants) {
      const sameSet = seriesKey(recordAttributes(a)) === seriesKey(recordAttributes(b));
      assert.equal(recordKey(a) === recordKey(b), sameSet, `${JSON.stringify(recordAttributes(a))} vs ${JSON.stringify(recordAttributes(b))}`);
    }
  }
});

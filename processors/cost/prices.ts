/**
 * Built-in prices in US dollars per GB (10^9 bytes) of flow bytes, counted
 * once, at the source. Each default, its date and its public source are
 * listed in README.md ("Default prices"); update both together.
 */
import type { TrafficClass } from '../../pipeline/flow.ts';

export type Provider = 'gcp' | 'aws' | 'azure' | 'custom';
export type ClassPrices = Record<TrafficClass, number>;

export const BUILT_IN_PRICES: Readonly<Record<Exclude<Provider, 'custom'>, Readonly<ClassPrices>>> = {
  // cross_zone: inter-zone VM-to-VM egress in one region, $0.01/GiB; ingress is free.
  // cross_region: between regions within North America, $0.02/GiB.
  // internet: Premium Tier to North America, 1 GiB-1 TiB per month, $0.12/GiB.
  gcp: { same_zone: 0, cross_zone: 0.01, cross_region: 0.02, internet: 0.12, unknown: 0 },
  // cross_zone: $0.01/GB out of the source AZ plus $0.01/GB into the destination
  // AZ; zonetap counts a flow once, at its source, so both halves are 0.02.
  // cross_region: US regions to other US regions, $0.02/GB out (in is free).
  // internet: first 10 TB per month, $0.09/GB (after 100 GB free per month).
  aws: { same_zone: 0, cross_zone: 0.02, cross_region: 0.02, internet: 0.09, unknown: 0 },
  // cross_zone: free since Microsoft's May 2024 announcement.
  // cross_region: within North America or Europe, $0.02/GB.
  // internet: Microsoft premium global network, first 10 TB, $0.087/GB (after 100 GB free).
  azure: { same_zone: 0, cross_zone: 0, cross_region: 0.02, internet: 0.087, unknown: 0 },
};

/** Bytes in one GB, as providers bill (decimal). */
export const BYTES_PER_GB = 1e9;

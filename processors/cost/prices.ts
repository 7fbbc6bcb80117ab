/**
 * The built-in price tables: US dollars per billing unit of flow bytes,
 * counted once, at the source. Each table is dated and names its public
 * sources; README.md ("Price tables") quotes every figure with its source and
 * works one bill through each table. Update both together.
 */
import type { TrafficClass } from '../../pipeline/flow.ts';

export type Provider = 'gcp' | 'aws' | 'azure' | 'custom';
export type BuiltInProvider = Exclude<Provider, 'custom'>;
export type ClassPrices = Record<TrafficClass, number>;

/** The unit a provider bills data in: GB = 10^9 bytes (AWS, Azure), GiB = 2^30 bytes (Google). */
export type BillingUnit = 'GB' | 'GiB';
export const BYTES_PER_UNIT: Readonly<Record<BillingUnit, number>> = { GB: 1e9, GiB: 2 ** 30 };

/**
 * One band of a monthly volume tier list: `price` per unit for this month's
 * volume up to `upTo` units, counted from the first byte of the month (so the
 * bands follow one another). The last band has `upTo: Infinity`.
 */
export interface VolumeTier {
  upTo: number;
  price: number;
}

export interface PriceTable {
  unit: BillingUnit;
  /** The day the prices were read from `sources` (YYYY-MM-DD). */
  date: string;
  /** Public pages the prices come from, the provider's own first. */
  sources: readonly string[];
  /** Per unit, by class; `internet` comes from `internetTiers`. */
  prices: Readonly<Omit<ClassPrices, 'internet'>>;
  /** Internet egress per month, free allowance first (price 0). */
  internetTiers: readonly VolumeTier[];
  /** NAT gateway data processing, per unit (used with `nat_gateway: true`). */
  natGateway: number;
}

export const PRICE_TABLES: Readonly<Record<BuiltInProvider, Readonly<PriceTable>>> = {
  gcp: {
    unit: 'GiB',
    date: '2026-12-01',
    sources: ['https://cloud.google.com/vpc/network-pricing', 'https://cloud.google.com/nat/pricing'],
    // cross_zone: VM-to-VM between zones of one region, egress only (ingress is free).
    // cross_region: between regions within North America (other continents: region_pairs).
    // same_region: Google APIs and services in the VM's own region (Cloud Storage, Private Google Access): no egress charge.
    prices: { same_zone: 0, same_region: 0, cross_zone: 0.01, cross_region: 0.02, unknown: 0 },
    // Premium Tier to North America: first GiB free, then 0.12 / 0.11 / 0.08 per GiB
    // up to 1 TiB / 10 TiB / beyond, per month and billing account.
    internetTiers: [
      { upTo: 1, price: 0 },
      { upTo: 1024, price: 0.12 },
      { upTo: 10_240, price: 0.11 },
      { upTo: Infinity, price: 0.08 },
    ],
    // Cloud NAT: per GiB processed, inbound and outbound, the same in every region.
    natGateway: 0.045,
  },
  aws: {
    unit: 'GB',
    date: '2026-12-01',
    sources: ['https://aws.amazon.com/ec2/pricing/on-demand/', 'https://aws.amazon.com/vpc/pricing/', 'https://aws.amazon.com/s3/pricing/'],
    // cross_zone: $0.01/GB out of the source AZ plus $0.01/GB into the destination
    // AZ; zonetap counts a flow once, at its source, so both halves: 0.02.
    // cross_region: from US regions to other regions, $0.02/GB out (in is free).
    // same_region: EC2 to S3, DynamoDB and other services in the same region: free (S3 pricing, "Data Transfer").
    prices: { same_zone: 0, same_region: 0, cross_zone: 0.02, cross_region: 0.02, unknown: 0 },
    // us-east-1: 100 GB free per month (aggregated over every AWS service and region),
    // then, beyond it, first 10 TB 0.09, next 40 TB 0.085, next 100 TB 0.07, beyond 0.05
    // (AWS's TB here is 1,024 GB).
    internetTiers: [
      { upTo: 100, price: 0 },
      { upTo: 100 + 10_240, price: 0.09 },
      { upTo: 100 + 51_200, price: 0.085 },
      { upTo: 100 + 153_600, price: 0.07 },
      { upTo: Infinity, price: 0.05 },
    ],
    // NAT gateway data processing, per GB, both directions.
    natGateway: 0.045,
  },
  azure: {
    unit: 'GB',
    date: '2026-12-01',
    sources: ['https://azure.microsoft.com/pricing/details/bandwidth/', 'https://azure.microsoft.com/pricing/details/azure-nat-gateway/', 'https://learn.microsoft.com/azure/reliability/availability-zones-overview'],
    // cross_zone: free since Microsoft's May 2024 announcement.
    // cross_region: within North America or Europe, $0.02/GB.
    // same_region: to Azure services in the same region: free.
    prices: { same_zone: 0, same_region: 0, cross_zone: 0, cross_region: 0.02, unknown: 0 },
    // Microsoft premium global network from North America/Europe: first 100 GB free,
    // then 0.087 up to 10 TB, 0.083 to 50 TB, 0.07 to 150 TB, 0.05 beyond.
    internetTiers: [
      { upTo: 100, price: 0 },
      { upTo: 10_000, price: 0.087 },
      { upTo: 50_000, price: 0.083 },
      { upTo: 150_000, price: 0.07 },
      { upTo: Infinity, price: 0.05 },
    ],
    // NAT Gateway data processed, per GB.
    natGateway: 0.045,
  },
};

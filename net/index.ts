/** IP addresses and CIDR blocks: the one place zonetap does address arithmetic. */
export { canonicalAddress, ipv4ToNumber, parseAddress, type AddressValue } from './address.ts';
export { cidrContains, cidrsOverlap, parseCidr, type Cidr } from './cidr.ts';
export { CidrMap } from './cidr-map.ts';
export { isPublicAddress } from './public.ts';

// Browser login's secrets (RFC 7636 PKCE, the OAuth state) and the words a person compares on screen.
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** 64 characters of base64url: within RFC 7636's 43 to 128. */
export function newVerifier(): string {
  return randomBytes(48).toString('base64url');
}

/** S256: base64url(SHA-256(verifier)). The server stores this; only we know the verifier. */
export function challengeOf(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Ties the browser's answer to this login: an answer with another state is not ours. */
export function newState(): string {
  return randomBytes(24).toString('base64url');
}

// Short, common, unlike each other when read aloud or at a glance; 127 of them (two: ~14 bits).
const WORDS = (
  'AMBER ANCHOR APPLE ARROW ASPEN BADGE BAKER BAMBOO BASIL BEACON BERRY BIRCH BISON BLADE BLOOM BRAVE ' +
  'BREEZE BRICK BROOK CABIN CACTUS CAMEL CANDLE CANYON CARGO CEDAR CHALK CHERRY CLOUD CLOVER COBALT ' +
  'COMET CORAL COTTON CRANE DAISY DELTA DESERT DIVER DRAGON EAGLE EMBER FABLE FALCON FERN FIG FJORD ' +
  'FLINT FOREST FOSSIL FROST GALAXY GARNET GECKO GINGER GLACIER GRAPE GRAVEL HARBOR HAZEL HERON HONEY ' +
  'ICICLE INDIGO IVORY JADE JASMINE JUNGLE KAYAK KETTLE KIWI KOALA LAGOON LANTERN LEMON LILAC LINEN ' +
  'LOTUS MAGNET MANGO MAPLE MARBLE MEADOW MELON MINT MOSAIC NECTAR NOBLE NUTMEG OASIS OCEAN OLIVE ' +
  'ORBIT ORCHID OTTER PANDA PAPAYA PEBBLE PEPPER PILOT PLANET PLUM POLAR QUARTZ QUILL RAVEN REEF ' +
  'RIVER ROBIN SAFFRON SALMON SAPPHIRE SIERRA SILVER SPARROW SPRUCE SUMMIT TANGO THISTLE TIGER TULIP ' +
  'TUNDRA VELVET VIOLET WALNUT WILLOW ZEPHYR'
).split(' ');

/** Two words (e.g. MAPLE-OTTER) the CLI prints and the approval page shows: same words, same login. */
export function confirmWords(): string {
  const first = WORDS[randomInt(WORDS.length)] as string;
  let second = first;
  while (second === first) second = WORDS[randomInt(WORDS.length)] as string;
  return `${first}-${second}`;
}

// Decodes Shopify's encoded variant fields with @shopify/hydrogen-react's own
// decoder: stdin is a JSON array of encoded strings, stdout the JSON array of
// their decodings (arrays of option-value index tuples). Run by
// TestEncodedVariantsDecodeWithHydrogenReact with NODE_PATH set to the
// package's install.
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'x.js'));
const {decodeEncodedVariant} = require('@shopify/hydrogen-react');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((s) => decodeEncodedVariant(s));
  process.stdout.write(JSON.stringify(out));
});

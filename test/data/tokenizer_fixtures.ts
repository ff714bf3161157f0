// Where the tokenizer reference fixtures live (made by scripts/ref/make_tokenizer_refs.py).
import { fileURLToPath } from 'node:url';

// dist/test/data/ → the repository root → test/fixtures/tokenizers/
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/tokenizers/', import.meta.url));

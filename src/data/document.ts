// The unit of data everywhere in src/data: one document of running text.

export interface Document {
  /** Unique and stable across runs (Brown file name, `path` or `path#line`): the split sorts by it. */
  id: string;
  /** Where the text comes from (Brown genre, file name, or the JSONL `source` field): metrics group by it. */
  source: string;
  text: string;
}

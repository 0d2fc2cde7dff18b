/** Cache tags of the files domain: one per owner's list, one per file. */
export const fileTags = {
  /** Every list/search result of one owner. */
  ownerList: (ownerId: string) => `files:owner:${ownerId}`,
  /**
   * Everything that shows one file (files.get). The id is lower-cased: a UUID may arrive in either
   * case (PostgreSQL and zod accept both), while events and mutations carry the canonical lower
   * case; a tag made from the raw id of an upper-case request would never be invalidated.
   */
  file: (fileId: string) => `file:${fileId.toLowerCase()}`,
};

/**
 * The tags a change of one file touches: its own tag and its owner's list tag (an upload has no
 * cached get yet, but tagging it too costs nothing and keeps the rule uniform).
 */
export function tagsForFileChange(file: { id: string; ownerId: string }): string[] {
  return [fileTags.file(file.id), fileTags.ownerList(file.ownerId)];
}

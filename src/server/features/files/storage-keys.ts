/**
 * Where the files feature keeps its blobs. Both upload paths, the upload saga's compensations and
 * the orphan-blob sweep (orphan-blobs.ts, which also spells these shapes in SQL) agree on them.
 */
export const stagingKeyFor = (sagaId: string) => `staging/${sagaId}`;
export const storageKeyFor = (ownerId: string, fileId: string) => `files/${ownerId}/${fileId}`;
export const thumbnailKeyFor = (ownerId: string, fileId: string) => `thumbs/${ownerId}/${fileId}.webp`;

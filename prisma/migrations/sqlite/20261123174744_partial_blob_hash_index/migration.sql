-- DropIndex
DROP INDEX "ResourceRevision_blobHash_idx";

-- CreateIndex
CREATE INDEX "ResourceRevision_blobHash_idx" ON "ResourceRevision"("blobHash") WHERE "blobHash" IS NOT NULL;

-- The chart's buckets read (resourceId, timestamp, numericValue) from the index alone.
-- Created before the old index is dropped, so history reads keep an index throughout.
-- CreateIndex
CREATE INDEX "ResourceRevision_resourceId_timestamp_numericValue_idx" ON "ResourceRevision"("resourceId", "timestamp", "numericValue");

-- DropIndex
DROP INDEX "ResourceRevision_resourceId_timestamp_idx";

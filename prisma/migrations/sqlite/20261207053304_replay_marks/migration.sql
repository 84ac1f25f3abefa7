-- CreateTable
CREATE TABLE "ReplayMark" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sender" TEXT NOT NULL,
    "producer" TEXT NOT NULL,
    "through" BIGINT NOT NULL DEFAULT 0,
    "ranges" TEXT NOT NULL DEFAULT '[]',
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "ReplayMark_sender_producer_key" ON "ReplayMark"("sender", "producer");

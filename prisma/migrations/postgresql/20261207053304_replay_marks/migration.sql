-- CreateTable
CREATE TABLE "ReplayMark" (
    "id" SERIAL NOT NULL,
    "sender" TEXT NOT NULL,
    "producer" TEXT NOT NULL,
    "through" BIGINT NOT NULL DEFAULT 0,
    "ranges" TEXT NOT NULL DEFAULT '[]',
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ReplayMark_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ReplayMark_sender_producer_key" ON "ReplayMark"("sender", "producer");

-- AlterTable
ALTER TABLE "ControllerStatus" ADD COLUMN "watchdogNoticeClaimedUntil" DATETIME;
ALTER TABLE "ControllerStatus" ADD COLUMN "watchdogNoticeSentTo" TEXT;

-- CreateTable
CREATE TABLE "OutgoingThrottle" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL,
    "sender" TEXT NOT NULL,
    "attempts" TEXT NOT NULL DEFAULT '',
    "version" INTEGER NOT NULL DEFAULT 0
);

-- CreateIndex
CREATE UNIQUE INDEX "OutgoingThrottle_kind_sender_key" ON "OutgoingThrottle"("kind", "sender");

// The work chunk (loaded on first use, see components/LazyWork.tsx): the agent's inbox
// and the supervisor's live board.
export { MyWork } from './MyWork';
export { Board } from './Board';
